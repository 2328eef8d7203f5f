package yamlnode

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDuplicates(t *testing.T) {
	many := strings.Builder{}
	for i := range 40 {
		fmt.Fprintf(&many, "k%d: %d\n", i, i)
	}
	many.WriteString("k7: again\n")
	cases := []struct {
		name, in string
		want     []Duplicate
	}{
		{"none", "a: 1\nb: {a: 2}\n", nil},
		{"at the top", "a: 1\nb: 2\na: 3\n", []Duplicate{{Key: "a", First: 1, Again: 3}}},
		{"in a nested mapping and in a list item", "m:\n  x: 1\n  x: 2\nl:\n- n: a\n  n: b\n",
			[]Duplicate{{Key: "x", First: 2, Again: 3}, {Key: "n", First: 5, Again: 6}}},
		{"three times: each repeat once", "a: 1\na: 2\na: 3\n",
			[]Duplicate{{Key: "a", First: 1, Again: 2}, {Key: "a", First: 2, Again: 3}}},
		{"\"1\" and 1 are different keys", "\"1\": a\n1: b\n", nil},
		{"merge keys may repeat", "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: *a\n  <<: *b\n", nil},
		{"in a flow mapping", "m: {a: 1, a: 2}\n", []Duplicate{{Key: "a", First: 1, Again: 1}}},
		{"in a large mapping", many.String(), []Duplicate{{Key: "k7", First: 8, Again: 41}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, err := ParseDocument([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			got := Duplicates(root)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			if err := CheckDuplicates(root); (err != nil) != (len(c.want) > 0) {
				t.Fatalf("CheckDuplicates = %v", err)
			} else if err != nil && err.Error() != c.want[0].String() {
				t.Fatalf("CheckDuplicates = %v, want %v", err, c.want[0])
			}
		})
	}
	d := Duplicate{Key: "kind", First: 2, Again: 9}
	if got := d.String(); got != `line 9: mapping key "kind" already defined at line 2` {
		t.Errorf("String() = %q", got)
	}
}
