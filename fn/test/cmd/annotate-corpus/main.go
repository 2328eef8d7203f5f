// Command annotate-corpus writes each file of ../shared/corpus with every pod
// template annotated sidecar.mesher.io/inject: "yes" (as the corpus suites
// make their input), one file per corpus file under the folder it is given.
// hack/snapshot.sh runs a binary over them to record its output before and
// after a change that should not alter it.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/inject-mesher/inject-mesher/fn/test/internal/corpusfiles"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: annotate-corpus REPO_ROOT OUT_DIR")
		os.Exit(2)
	}
	files, err := corpusfiles.Load(corpusfiles.Dir(os.Args[1]))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, f := range files {
		a, err := corpusfiles.Annotate(f.Text)
		text := a.Text
		if err != nil || text == "" {
			text = f.Text
		}
		out := filepath.Join(os.Args[2], filepath.FromSlash(f.Rel))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
