package cli

import (
	"fmt"
	"os"
	"path/filepath"
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
// .yaml and .yml files of folders (not descending), in the order given.
func templateDocs(paths []string) ([]templateDoc, error) {
	var out []templateDoc
	for _, p := range paths {
		files := []string{p}
		if fi, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("templates: %v", err)
		} else if fi.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("templates: %v", err)
			}
			files = files[:0]
			for _, e := range entries {
				if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
			slices.Sort(files)
		}
		for _, f := range files {
			body, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("templates: %v", err)
			}
			lines := manifest.NewLineCounter(body)
			for _, d := range manifest.SplitDocuments(body) {
				if manifest.IsBlank(d.Body) || manifest.OnlyDocumentEnds(d.Body) {
					continue
				}
				out = append(out, templateDoc{file: f, line: lines.Before(d.Body) + 1, body: d.Body})
			}
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
