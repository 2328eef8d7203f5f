package cli

import (
	"fmt"
	"slices"

	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
)

// templateDoc is one YAML document of a template file, with where it is.
type templateDoc struct {
	file string
	// line is the document's first line in the file (1-based).
	line int
	body []byte
}

// templateDocs reads the documents of SidecarTemplate files, and of the
// files of folders (not descending), in the order given: the paths are
// read as the manifests are (readPaths), less stdin, which holds them.
func templateDocs(paths []string) ([]templateDoc, error) {
	if slices.Contains(paths, "-") {
		return nil, fmt.Errorf("templates: \"-\" is not a file: stdin is for the manifests")
	}
	inputs, err := readPaths(paths, false, nil)
	if err != nil {
		return nil, fmt.Errorf("templates: %v", err)
	}
	var out []templateDoc
	for _, in := range inputs {
		lines := manifest.NewLineCounter(in.data)
		for _, d := range manifest.SplitDocuments(in.data) {
			if manifest.IsBlank(d.Body) || manifest.OnlyDocumentEnds(d.Body) {
				continue
			}
			out = append(out, templateDoc{file: in.name, line: lines.Before(d.Body) + 1, body: d.Body})
		}
	}
	return out, nil
}

// readTemplates reads the --templates files into entries. A document that
// is not a SidecarTemplate is an error; a template with problems is kept
// (a pod that selects it is refused with them).
func readTemplates(paths []string) ([]*template.Entry, error) {
	docs, err := templateDocs(paths)
	if err != nil {
		return nil, err
	}
	var out []*template.Entry
	for _, d := range docs {
		t, err := template.ParseBytes(d.body)
		if err != nil {
			return nil, fmt.Errorf("templates: %s:%d: %v", d.file, d.line, err)
		}
		out = append(out, template.Prepare(t, d.file))
	}
	return out, nil
}
