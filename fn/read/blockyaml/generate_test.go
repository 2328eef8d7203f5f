package blockyaml_test

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/read/blockyaml"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Random texts in and around the block layout (odd keys and scalars, flow
// collections, literal scalars, comments, an indentation off by one now and
// then), as items and as documents: whatever the reader reads, yaml.v3
// reads into the same tree. The seed is fixed, so a failure repeats.
func TestGeneratedTexts(t *testing.T) {
	const texts = 50000
	r := blockyaml.NewReader()
	g := &generator{rand: rand.New(rand.NewSource(1))}
	read := 0
	for i := 0; i < texts; i++ {
		text, item := g.text()
		var got, ok = r.Document([]byte(text))
		parse, what := yamlnode.ParseDocument, "document"
		if item {
			got, ok = r.Item([]byte(text))
			parse, what = manifest.ParseItem, "item"
		}
		if !ok {
			continue
		}
		read++
		agreeAs(t, what, parse, text, got)
	}
	t.Logf("read %d of %d generated texts", read, texts)
	if read < texts/20 {
		t.Errorf("read only %d of %d generated texts: the generator no longer tests the reader", read, texts)
	}
}

var (
	// The first of each list are in the layout the reader takes; the
	// rest are near it, picked one time in ten.
	genKeys = []string{"a", "b", "name", "app.kubernetes.io/name", "x y", "-x", "1", "true", "null", ".5", "a#b", "a:b", "0x1", "a[0]", "a,b", "+1", "$x", "(x)", "=", "_", "k-", "a -b", "2001-12-14", "on",
		"y", "~x", "a'b", "a\"b", "a:", "a ", " a", "a:#", "a?", "?a"}
	genKeysTaken = 24
	genScalars   = []string{"v", "web", "1", "0", "-1", "+1", "1.5", ".5", "1e3", "0x1F", "0o17", "017", "08", "1_000", "2001-12-14", "2001-12-14T21:59:43Z", "true", "True", "yes", "no", "null", "Null",
		".inf", "-.Inf", ".nan", "100m", "128Mi", "http://x/y", "a b", "a  b", "a:b", "a::b", "a#b", "a,b", "a]b", "a}b", "-a", "'q'", "\"q\"", "''", "\"\"", "=", "$(VAR)", "/bin/sh", "why?",
		"~", "-", "--", "- a", "a -", "'a''b'", "\"a\\b\"", "'a b' ", "\"a # b\"", "*/5 * * * *", "...", "---", "a: b", "a:", ":a", "?a", "@a", "`a", "%a", "!a", "&a", "*a", "|", ">", "|-", "[a]", "{a: b}"}
	genScalarsTaken = 48
	genFlow         = []string{"a", "b c", "1", "-1", "'q'", "\"q\"", "a: b", "a: 1", "'k': v", "\"k\": v", "a:b", "", " ", "a b: c d", "true", "null", "0x1", "a'b", "a!b", "a&b", "a*b", "a|b", "a>b",
		"a%b", "a@b", "a`b", "a=b", "a~b", "a\\b", "a-b", "a - b", "-", "- a", "a#b", "a #b", "[x]", "{x: y}", "a:", ":a", "k: ", " k : v ", "a?", "a?b: c"}
	genFlowTaken = 10
)

type generator struct {
	rand *rand.Rand
	b    strings.Builder
}

// text is an item ("- " then a mapping) or a document.
func (g *generator) text() (string, bool) {
	g.b.Reset()
	item := g.rand.Intn(2) == 0
	if item {
		g.b.WriteString(strings.Repeat(" ", 2*g.rand.Intn(2)) + "-" + strings.Repeat(" ", 1+g.rand.Intn(2)))
		g.mapping(g.b.Len(), 0, true)
	} else {
		g.mapping(0, 0, true)
	}
	text := g.b.String()
	if g.rand.Intn(5) == 0 {
		text = strings.TrimSuffix(text, "\n")
	}
	return text, item
}

func (g *generator) pick(list []string, taken int) string {
	if g.rand.Intn(10) != 0 {
		return list[g.rand.Intn(taken)]
	}
	return list[g.rand.Intn(len(list))]
}

func (g *generator) indent(n int) string {
	if g.rand.Intn(60) == 0 {
		n = max(0, n+g.rand.Intn(3)-1)
	}
	return strings.Repeat(" ", n)
}

func (g *generator) comment() string {
	return [...]string{" # c", "#c", "  ", "", "", ""}[g.rand.Intn(6)]
}

func (g *generator) value() string {
	if g.rand.Intn(6) > 0 {
		return g.pick(genScalars, genScalarsTaken)
	}
	var parts []string
	for range g.rand.Intn(4) {
		parts = append(parts, g.pick(genFlow, genFlowTaken))
	}
	inside := strings.Join(parts, [...]string{", ", ",", " , ", " ,"}[g.rand.Intn(4)])
	if g.rand.Intn(8) == 0 {
		inside += ","
	}
	if g.rand.Intn(2) == 0 {
		return "[" + inside + "]"
	}
	return "{" + inside + "}"
}

func (g *generator) literal(col int) {
	g.b.WriteString([...]string{"|", "|-", "| # c", "|-#c", "|+", "|2", "| x"}[g.rand.Intn(3+g.rand.Intn(2)*4)] + "\n")
	in := col + 1 + g.rand.Intn(3)
	for range 1 + g.rand.Intn(4) {
		switch g.rand.Intn(7) {
		case 0:
			g.b.WriteString("\n")
		case 1:
			g.b.WriteString(strings.Repeat(" ", g.rand.Intn(in+3)) + "\n")
		case 2:
			g.b.WriteString(g.indent(in) + strings.Repeat(" ", g.rand.Intn(3)) + "# x\n")
		case 3:
			g.b.WriteString(strings.Repeat(" ", col+g.rand.Intn(in-col+1)) + "# y\n")
		default:
			g.b.WriteString(strings.Repeat(" ", in+g.rand.Intn(2)*g.rand.Intn(3)) + g.pick(genScalars, genScalarsTaken) + "\n")
		}
	}
}

// mapping writes a block mapping at column col; first: its first key goes
// on the current line (after an entry's "- ").
func (g *generator) mapping(col, depth int, first bool) {
	for i := range 1 + g.rand.Intn(4) {
		if g.rand.Intn(8) == 0 {
			g.b.WriteString(strings.Repeat(" ", g.rand.Intn(col+3)) + "# c\n")
		}
		if g.rand.Intn(10) == 0 {
			g.b.WriteString("\n")
		}
		if !first || i > 0 {
			g.b.WriteString(g.indent(col))
		}
		g.b.WriteString(g.pick(genKeys, genKeysTaken) + ":")
		switch k := g.rand.Intn(10); {
		case k < 4 || depth > 5:
			g.b.WriteString(strings.Repeat(" ", 1+g.rand.Intn(2)) + g.value() + g.comment() + "\n")
		case k == 4:
			g.b.WriteString(g.comment() + "\n")
		case k == 5:
			g.b.WriteString(" ")
			g.literal(col)
		case k == 6:
			g.b.WriteString(g.comment() + "\n")
			g.sequence(col+g.rand.Intn(2)*2, depth+1)
		default:
			g.b.WriteString(g.comment() + "\n")
			g.mapping(col+1+g.rand.Intn(3), depth+1, false)
		}
	}
}

func (g *generator) sequence(col, depth int) {
	for range 1 + g.rand.Intn(3) {
		spaces := 1 + g.rand.Intn(3)*g.rand.Intn(2)
		g.b.WriteString(g.indent(col) + "-" + strings.Repeat(" ", spaces))
		if g.rand.Intn(2) == 0 || depth > 5 {
			g.b.WriteString(g.value() + g.comment() + "\n")
		} else {
			g.mapping(col+1+spaces, depth+1, true)
		}
	}
}
