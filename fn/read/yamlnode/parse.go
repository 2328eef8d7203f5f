package yamlnode

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ParseDocument parses one document's body into its root node (nil when the
// document is empty).
func ParseDocument(body []byte) (*yaml.Node, error) {
	doc, err := ParseDocumentNode(body)
	if doc == nil || err != nil {
		return nil, err
	}
	return doc.Content[0], nil
}

// ParseDocumentNode parses one document's body into its document node (nil
// when the document is empty). Text after the document is an error, not
// silently dropped: yaml.Unmarshal reads the first document and ignores
// the rest, so `{"kind": "Pod"}0`, or `a: 1` then `...` then `b: 2`, would
// have lost what follows.
func ParseDocumentNode(body []byte) (*yaml.Node, error) {
	if bytes.HasPrefix(body, []byte("\xff\xfe")) || bytes.HasPrefix(body, []byte("\xfe\xff")) {
		// yaml.v3 would read it, but the raw splitting (and the rest of the
		// stream, written back as it was) assumes UTF-8.
		return nil, fmt.Errorf("the text is UTF-16 (it starts with a byte order mark): inject-mesher reads UTF-8 YAML only")
	}
	dec := yaml.NewDecoder(bytes.NewReader(body))
	var doc yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, err
	case !isEmptyDocument(&next):
		return nil, fmt.Errorf("a second YAML document follows the first (after a \"...\" line?): one document was expected here")
	default:
		// Only empty documents may follow ("---" at the very end).
		for {
			if err := dec.Decode(&next); err == io.EOF {
				break
			} else if err != nil {
				return nil, err
			} else if !isEmptyDocument(&next) {
				return nil, fmt.Errorf("a second YAML document follows the first: one document was expected here")
			}
		}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return &doc, nil
}

// Duplicate is a mapping key written twice. kubectl and kpt read such an
// object, keeping the last value (so does the injector: Get reads the
// last); kustomize refuses it.
type Duplicate struct {
	Key          string
	First, Again int
}

func (d Duplicate) String() string {
	return fmt.Sprintf("line %d: mapping key %q already defined at line %d", d.Again, d.Key, d.First)
}

// Duplicates lists the keys written twice in one mapping anywhere under node.
func Duplicates(node *yaml.Node) []Duplicate {
	var out []Duplicate
	duplicates(node, &out)
	return out
}

// CheckDuplicates is an error naming the first duplicate key, for input that
// is the injector's own (its config), where a key twice is a mistake.
func CheckDuplicates(node *yaml.Node) error {
	if d := Duplicates(node); len(d) > 0 {
		return errors.New(d[0].String())
	}
	return nil
}

func duplicates(node *yaml.Node, out *[]Duplicate) {
	switch node.Kind {
	case yaml.MappingNode:
		c := node.Content
		if len(c) <= 32 {
			// Small mappings, nearly all of them: no allocation.
			for i := 0; i+1 < len(c); i += 2 {
				for j := i + 2; j+1 < len(c); j += 2 {
					if sameKey(c[i], c[j]) {
						*out = append(*out, Duplicate{Key: c[j].Value, First: c[i].Line, Again: c[j].Line})
						break
					}
				}
			}
		} else {
			seen := make(map[string]*yaml.Node, len(c)/2)
			for i := 0; i+1 < len(c); i += 2 {
				if c[i].Kind != yaml.ScalarNode || c[i].Value == "<<" {
					continue
				}
				if prev, ok := seen[c[i].Value]; ok && sameKey(prev, c[i]) {
					*out = append(*out, Duplicate{Key: c[i].Value, First: prev.Line, Again: c[i].Line})
				}
				seen[c[i].Value] = c[i]
			}
		}
		for i := 1; i < len(c); i += 2 {
			duplicates(c[i], out)
		}
	case yaml.SequenceNode:
		for _, el := range node.Content {
			duplicates(el, out)
		}
	}
}

// sameKey: two scalar keys with one value and one tag (1 and "1" differ);
// merge keys (<<) may repeat.
func sameKey(a, b *yaml.Node) bool {
	return a.Kind == yaml.ScalarNode && b.Kind == yaml.ScalarNode && a.Value == b.Value && a.Value != "<<" && a.ShortTag() == b.ShortTag()
}

func isEmptyDocument(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	c := doc.Content[0]
	return len(doc.Content) == 1 && c.Kind == yaml.ScalarNode && c.Tag == yaml.NodeTagNull && c.Value == ""
}
