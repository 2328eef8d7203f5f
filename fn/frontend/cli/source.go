package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/apply/textpatch"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/plan"
	"github.com/inject-mesher/inject-mesher/fn/read/blockyaml"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// MaxInputBytes bounds what one run reads, so a runaway input fails clearly
// instead of exhausting the machine.
const MaxInputBytes = 256 << 20

type input struct {
	name string
	data []byte
}

func readLimited(r io.Reader, name string) ([]byte, error) {
	// Read in blocks joined once at the end: a buffer that doubles its way up
	// would hold (and copy) up to twice the input, and the input is most of
	// what the function keeps in memory. A file (`< list.yaml`) says its
	// size: the first block holds all of it, and nothing is joined (every
	// fresh page costs: the join showed in profiles of a large input). A
	// pipe says nothing: its first block is small, as most renders are (a
	// zeroed mebibyte showed in profiles of a small one), the next ones large.
	first := 64 << 10
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() < MaxInputBytes {
			first = int(st.Size()) + 1 // +1: the read that finds the end
		}
	}
	var blocks [][]byte
	total := 0
	for size := first; ; size = 1 << 20 {
		b := make([]byte, size)
		n, err := io.ReadFull(r, b)
		blocks = append(blocks, b[:n])
		if total += n; total > MaxInputBytes {
			return nil, fmt.Errorf("%s is larger than %d MiB, the most inject-mesher reads in one run", name, MaxInputBytes>>20)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %v", name, err)
		}
	}
	if len(blocks) == 1 {
		return blocks[0], nil
	}
	data := make([]byte, 0, total)
	for _, b := range blocks {
		data = append(data, b...)
	}
	return data, nil
}

// readPaths reads files, folders (their .yaml, .yml and .json files, sorted)
// and "-" for stdin.
func readPaths(paths []string, recursive bool, stdin io.Reader) ([]input, error) {
	var inputs []input
	total := 0
	add := func(name string, r io.Reader) error {
		data, err := readLimited(r, name)
		if err != nil {
			return err
		}
		if total += len(data); total > MaxInputBytes {
			return fmt.Errorf("the inputs are larger than %d MiB together, the most inject-mesher reads in one run", MaxInputBytes>>20)
		}
		inputs = append(inputs, input{name: name, data: data})
		return nil
	}
	addFile := func(path string) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return add(path, f)
	}
	for _, p := range paths {
		if p == "-" {
			if err := add("<stdin>", stdin); err != nil {
				return nil, err
			}
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			if err := addFile(p); err != nil {
				return nil, err
			}
			continue
		}
		var files []string
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && (!recursive || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".yaml", ".yml", ".json":
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("%s holds no .yaml, .yml or .json file", p)
		}
		for _, f := range files {
			if err := addFile(f); err != nil {
				return nil, err
			}
		}
	}
	return inputs, nil
}

// docSource serves the documents of the input files. It holds the parsed
// tree of the document being processed only: the batch runner parses,
// processes and encodes one document at a time. reader reads documents in
// the layout tools write (most of them) several times faster than yaml.v3,
// which reads the rest; it keeps no comments, so a document re-encoded is
// read again with yaml.v3 first (cur is nil until then).
type docSource struct {
	docs   []doc
	cur    *yaml.Node
	curDoc int
	reader *blockyaml.Reader
}

type doc struct {
	file string
	// index is the document's position in its file, for results.
	index int
	sep   []byte
	body  []byte
	// line is how many lines of the file come before body, for error messages.
	line int
	kind string
}

func newDocSource(inputs []input) *docSource {
	s := &docSource{curDoc: -1, reader: blockyaml.NewReader()}
	for fi, in := range inputs {
		parts := manifest.SplitDocuments(in.data)
		lines := manifest.NewLineCounter(in.data)
		for di, d := range parts {
			sep := d.Sep
			if di == 0 && fi > 0 && len(sep) == 0 {
				// Files are joined into one stream: each starts a document.
				sep = []byte("---\n")
			}
			s.docs = append(s.docs, doc{file: in.name, index: di, sep: sep, body: d.Body, kind: manifest.SniffDocumentKind(d.Body),
				line: lines.Before(d.Body)})
		}
		if fi < len(inputs)-1 && len(s.docs) > 0 {
			// The next file's documents follow this one's last.
			last := &s.docs[len(s.docs)-1]
			last.body = textpatch.Continued(last.body)
		}
	}
	return s
}

func (s *docSource) Len() int          { return len(s.docs) }
func (s *docSource) Kind(i int) string { return s.docs[i].kind }
func (s *docSource) ValidateAll() bool { return true }
func (s *docSource) Raw(i int) []byte {
	d := s.docs[i]
	if len(d.sep) == 0 {
		return d.body
	}
	return append(append([]byte{}, d.sep...), d.body...)
}

// Moved gives a document without a "---" line (the first of its file) one:
// written after another, it would otherwise run on into it. A byte order
// mark that started the file stays behind: YAML allows one before a
// document's "---" line, not after it (yaml.v3 refuses it there).
func (s *docSource) Moved(i int) []byte {
	if len(s.docs[i].sep) == 0 {
		return append([]byte("---\n"), bytes.TrimPrefix(s.docs[i].body, []byte("\xef\xbb\xbf"))...)
	}
	return s.Raw(i)
}

func (s *docSource) Parse(i int) (*yaml.Node, error) {
	if len(s.docs[i].sep) > 0 && manifest.OnlyDocumentEnds(s.docs[i].body) {
		return nil, nil // "---" then "...": an empty document
	}
	if root, ok := s.reader.Document(s.docs[i].body); ok {
		s.cur, s.curDoc = nil, i
		return root, nil
	}
	docNode, err := yamlnode.ParseDocumentNode(s.docs[i].body)
	if docNode == nil || err != nil {
		return nil, manifest.ShiftLines(err, s.docs[i].line)
	}
	s.cur, s.curDoc = docNode, i
	return docNode.Content[0], nil
}

func (s *docSource) Body(i int) []byte { return s.docs[i].body }
func (s *docSource) Line(i int) int    { return s.docs[i].line }

func (s *docSource) Reparse(_ int, body []byte) (*yaml.Node, error) {
	return yamlnode.ParseDocument(body)
}

func (s *docSource) Wrap(i int, body []byte, encoded bool) []byte {
	sep := s.docs[i].sep
	if encoded && len(sep) > 0 && sep[len(sep)-1] != '\n' {
		// "--- {...}" written again: the encoded body starts a line of its own.
		sep = []byte("---\n")
	}
	return append(append(make([]byte, 0, len(sep)+len(body)), sep...), body...)
}

func (s *docSource) Encode(i int, _ *yaml.Node, p plan.Plan) ([]byte, error) {
	if s.curDoc != i {
		return nil, fmt.Errorf("document %d is not the one being processed", i)
	}
	docNode := s.cur
	s.cur, s.curDoc = nil, -1
	if docNode == nil {
		// Read without its comments: read again by yaml.v3, which keeps
		// them (the document's own too), and given the same plan.
		var err error
		if docNode, err = yamlnode.ParseDocumentNode(s.docs[i].body); err != nil {
			return nil, err
		}
		if err := plan.Apply(docNode.Content[0], p); err != nil {
			return nil, err
		}
		yamlnode.LiteralBlocks(docNode)
	}
	return manifest.EncodeDocument(docNode, s.docs[i].body)
}

func (s *docSource) Locate(i int, _ *yaml.Node) *engine.File {
	return &engine.File{Path: s.docs[i].file, Index: s.docs[i].index}
}
