// Package corpusfiles reads the real-manifest corpus (../shared/corpus
// beside the repository: files from Istio, Linkerd, kubernetes/examples and
// others, SOURCES.md there names each) and makes the annotated input from
// each file: every pod template annotated `sidecar.mesher.io/inject: "yes"`,
// inserted as text (the file is never encoded again).
//
// It reads YAML the way the API server does, independently of the function's
// own packages (fn/read/manifest, fn/engine): a key given twice counts with
// its last value, an alias stands for what it points to. The corpus tests
// (fn/test/corpus), the cluster tests (fn/test/cluster) and
// fn/test/cmd/annotate-corpus share it; nothing in the function imports it.
package corpusfiles

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File is one file of the corpus.
type File struct {
	// Rel is its path under the corpus directory, with slashes
	// ("istio/hello.yaml"); its first element is the corpus directory it
	// comes from.
	Rel string
	// Text is its content as it is.
	Text string
	// Invalid: listed in INVALID (kubectl refuses it too; the function must
	// answer exit 1 with nothing on stdout).
	Invalid bool
}

// Group is the corpus directory the file comes from (Rel's first element).
func (f *File) Group() string {
	g, _, _ := strings.Cut(f.Rel, "/")
	return g
}

// Dir is where the corpus lives for the repository at root: ../shared/corpus
// beside it.
func Dir(root string) string {
	return filepath.Join(root, "..", "shared", "corpus")
}

// Load reads every .yaml, .yml and .json file under dir, sorted by Rel, and
// marks those INVALID lists. A name in INVALID that is not in the corpus is an
// error.
func Load(dir string) ([]*File, error) {
	invalid := map[string]bool{}
	data, err := os.ReadFile(filepath.Join(dir, "INVALID"))
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			invalid[l] = true
		}
	}
	var files []*File
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files = append(files, &File{Rel: rel, Text: string(b), Invalid: invalid[rel]})
		delete(invalid, rel)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(invalid) > 0 {
		return nil, fmt.Errorf("INVALID names files that are not in the corpus: %v", invalid)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Rel < files[j].Rel })
	return files, nil
}
