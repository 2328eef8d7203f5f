package corpus_test

import (
	"regexp"

	"github.com/inject-mesher/inject-mesher/fn/test/internal/corpusfiles"
)

// The annotated input (every pod template annotated inject: "yes", inserted
// as text) is made by corpusfiles.Annotate, shared with the cluster tests.

// injectLine is the line corpusfiles.Annotate inserts into a block mapping.
const injectLine = corpusfiles.AnnInject + `: "yes"`

var injectYes = regexp.MustCompile(`("?` + regexp.QuoteMeta(corpusfiles.AnnInject) + `"?[ \t]*:[ \t]*)(?:"yes"|'yes'|yes\b)`)

// injectNo turns every inject: "yes" into inject: "no", for the uninject
// property.
func injectNo(s string) string { return injectYes.ReplaceAllString(s, `${1}"no"`) }
