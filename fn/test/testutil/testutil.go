// Package testutil holds what several packages' tests share: a line diff
// for failure messages, decoding YAML as the API server reads it, building
// the binaries, throwaway TLS certificates, and the check that an object
// re-encoded keeps its comments. Test code only (internal,
// imported by _test files).
package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// A plain LCS line diff.

// SplitLines cuts text into lines without their "\n" (a "\r" stays). A
// missing final newline makes no line of its own.
func SplitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// Edit is one line of a diff: ' ' kept, '-' deleted (a: 0-based line of the
// old text), '+' added (b: 0-based line of the new text).
type Edit struct {
	Op   byte
	A, B int
}

// DiffLines returns a shortest edit script from a to b (LCS, dynamic
// programming over the part between the common prefix and suffix).
func DiffLines(a, b []string) []Edit {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var out []Edit
	for i := 0; i < pre; i++ {
		out = append(out, Edit{' ', i, i})
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	n, m := len(ma), len(mb)
	// lcs[i][j]: length of the LCS of ma[i:] and mb[j:].
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if ma[i] == mb[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && ma[i] == mb[j]:
			out = append(out, Edit{' ', pre + i, pre + j})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, Edit{'-', pre + i, -1})
			i++
		default:
			out = append(out, Edit{'+', -1, pre + j})
			j++
		}
	}
	for k := 0; k < suf; k++ {
		out = append(out, Edit{' ', len(a) - suf + k, len(b) - suf + k})
	}
	return out
}

// Hunk is a run of deleted and added lines between kept ones.
type Hunk struct{ Del, Add []int }

func Hunks(ed []Edit) []Hunk {
	var out []Hunk
	var cur Hunk
	flush := func() {
		if len(cur.Del)+len(cur.Add) > 0 {
			out = append(out, cur)
		}
		cur = Hunk{}
	}
	for _, e := range ed {
		switch e.Op {
		case ' ':
			flush()
		case '-':
			cur.Del = append(cur.Del, e.A)
		case '+':
			cur.Add = append(cur.Add, e.B)
		}
	}
	flush()
	return out
}

// Unified renders a diff of two texts with two lines of context, for
// failure messages; at most limit hunks.
func Unified(oldText, newText string, limit int) string {
	a, b := SplitLines(oldText), SplitLines(newText)
	ed := DiffLines(a, b)
	show := make([]bool, len(ed))
	changed := false
	for k, e := range ed {
		if e.Op != ' ' {
			changed = true
			for j := max(0, k-2); j <= min(len(ed)-1, k+2); j++ {
				show[j] = true
			}
		}
	}
	var sb strings.Builder
	shown, prev := 0, -2
	for k, e := range ed {
		if !show[k] {
			continue
		}
		if k != prev+1 {
			if shown == limit {
				sb.WriteString("...\n")
				break
			}
			shown++
			fmt.Fprintf(&sb, "@@ old line %d @@\n", oldLine(ed, k))
		}
		prev = k
		switch e.Op {
		case ' ':
			sb.WriteString("  " + Visible(a[e.A]) + "\n")
		case '-':
			sb.WriteString("- " + Visible(a[e.A]) + "\n")
		case '+':
			sb.WriteString("+ " + Visible(b[e.B]) + "\n")
		}
	}
	switch {
	case oldText == newText || changed:
	case newText == oldText+"\n":
		sb.WriteString("(the same lines, but a line break was added at the end: the input has none)\n")
	default:
		fmt.Fprintf(&sb, "(the same lines; only the end differs: old ends %q, new ends %q)\n", tail(oldText), tail(newText))
	}
	return sb.String()
}

func oldLine(ed []Edit, k int) int {
	for ; k < len(ed); k++ {
		if ed[k].A >= 0 {
			return ed[k].A + 1
		}
	}
	return 0
}

// Visible shows trailing spaces and carriage returns.
func Visible(l string) string {
	t := strings.TrimRight(l, " \t\r")
	if t == l {
		return l
	}
	return t + strings.NewReplacer(" ", "·", "\t", "→", "\r", "␍").Replace(l[len(t):])
}

func tail(s string) string {
	if len(s) > 20 {
		return s[len(s)-20:]
	}
	return s
}

// DecodeAsServer decodes YAML as kubectl and the API server read it: of a
// key given twice in one mapping, the last value wins (yaml.Unmarshal
// refuses such a document; inject-mesher passes one through, with a warning).
func DecodeAsServer(data []byte, v any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || doc.Kind == 0 {
		return err
	}
	lastKeyWins(&doc)
	return doc.Decode(v)
}

// lastKeyWins drops every mapping entry whose key comes again later in the
// same mapping. Aliases are not followed: their anchors are walked where
// they stand.
func lastKeyWins(node *yaml.Node) {
	if node.Kind == yaml.MappingNode {
		last := map[string]int{}
		for i := 0; i+1 < len(node.Content); i += 2 {
			if k := node.Content[i]; k.Kind == yaml.ScalarNode && k.Tag != "!!merge" {
				last[k.Value] = i
			}
		}
		kept := node.Content[:0:0]
		for i := 0; i+1 < len(node.Content); i += 2 {
			if k := node.Content[i]; k.Kind == yaml.ScalarNode && k.Tag != "!!merge" && last[k.Value] != i {
				continue
			}
			kept = append(kept, node.Content[i], node.Content[i+1])
		}
		node.Content = kept
	}
	for _, c := range node.Content {
		lastKeyWins(c)
	}
}

// Build builds the Go package pkg of the module at root into out, static
// and with -trimpath as `make build` does (so the build cache is shared).
func Build(root, out, pkg string) error {
	goTool := "go"
	if _, err := exec.LookPath(goTool); err != nil && os.Getenv("GOROOT") != "" {
		// go test puts its own go on the PATH; a GOROOT is the fallback.
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// Unified8 is Unified with at most eight hunks.
func Unified8(oldText, newText string) string { return Unified(oldText, newText, 8) }

// ExpandAliases returns a copy of a tree with every alias replaced by a copy
// of what it stands for and no anchors: what the tree is as JSON.
func ExpandAliases(node *yaml.Node) *yaml.Node {
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		return ExpandAliases(node.Alias)
	}
	c := *node
	c.Anchor, c.Content = "", nil
	for _, x := range node.Content {
		c.Content = append(c.Content, ExpandAliases(x))
	}
	return &c
}
