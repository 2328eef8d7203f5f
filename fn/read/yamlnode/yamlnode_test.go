package yamlnode

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// NeedsQuotes agrees with kyaml's YAML 1.1 check on every value the injector
// writes and on the values YAML 1.1 reads as non-strings.
func TestNeedsQuotesAgreesWithYAML11(t *testing.T) {
	for _, v := range []string{
		"yes", "Yes", "YES", "y", "Y", "no", "N", "true", "False", "on", "OFF", "null", "~",
		"1", "1.0", "0.5", "1e3", "0x1F", "0o17", "017", "1_000", ".inf", "-.Inf", ".nan", "1:20", "2001-12-14",
		"web", "yesterday", "nothing", "onion", "TCP", "IfNotPresent", "100m", "128Mi", "rest:8080",
		"http://127.0.0.1:30101", "/tmp", "0.0.1", "1.2.3", "-", "", "sidecar-mesher", "RuntimeDefault",
	} {
		if got, want := NeedsQuotes(v), yaml.IsValueNonString(v); got != want {
			t.Errorf("NeedsQuotes(%q) = %v, YAML 1.1 says %v", v, got, want)
		}
	}
}

func TestNeedsQuotesQuantitiesAndTimes(t *testing.T) {
	for _, v := range []string{"100m", "128Mi", "0.5", "1Gi", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "12:30:00", "+1", "-1.5e+3", "0b1010", "1_000_000", "~", "1 2", "30101",
		"0", "00", "07", "08", "09", "0123", "123456789012345678901234567890", "10.0.0.1:30100", "1.2.3", "1..2", "..", "1.5.e3"} {
		if got, want := NeedsQuotes(v), yaml.IsValueNonString(v); got != want {
			t.Errorf("NeedsQuotes(%q) = %v, YAML 1.1 says %v", v, got, want)
		}
	}
}

// NeedsQuotes's shortcuts (all digits, two dots) agree with the YAML 1.1
// check on every short value made of the characters numbers and dates use.
// A value ending in ':' is a mapping, not a scalar, when written plain: the
// writers' own structural checks quote those (textpatch's plainSafe).
func TestNeedsQuotesShortValuesExhaustive(t *testing.T) {
	const alphabet = "0189.:-+_eExob"
	var walk func(prefix string)
	walk = func(prefix string) {
		if prefix != "" && !strings.HasSuffix(prefix, ":") {
			if got, want := NeedsQuotes(prefix), yaml.IsValueNonString(prefix); got != want {
				t.Errorf("NeedsQuotes(%q) = %v, YAML 1.1 says %v", prefix, got, want)
			}
		}
		if len(prefix) == 4 {
			return
		}
		for i := 0; i < len(alphabet); i++ {
			walk(prefix + alphabet[i:i+1])
		}
	}
	walk("")
}

// A scalar reached through an alias reads as the anchored scalar; an alias of
// a collection is no scalar (and is never expanded).
func TestScalarThroughAlias(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: &t true\nb: *t\nl: &l [1, 2]\nc: *l\n"), &doc); err != nil {
		t.Fatal(err)
	}
	m := doc.Content[0]
	if v, ok := Scalar(m, "b"); !ok || v != "true" {
		t.Errorf("Scalar(b) = %q, %v; want the anchored true", v, ok)
	}
	if v, ok := Scalar(m, "c"); ok {
		t.Errorf("Scalar(c) = %q, want no scalar for an alias of a list", v)
	}
}

// A key is looked up as kubectl reads it: the last of a key written twice,
// and only a scalar key (an alias used as a key stands for its anchor's
// value, not for its own name). Set and Delete change that same key.
func TestKeyLookup(t *testing.T) {
	m, err := ParseDocument([]byte("a: 1\nb: 2\na: 3\nx: &c y\n*c : 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key   string
		index int
		value string
	}{
		{"a", 4, "3"},
		{"b", 2, "2"},
		{"c", -1, ""},
		{"missing", -1, ""},
	} {
		t.Run(c.key, func(t *testing.T) {
			if i := KeyIndex(m, c.key); i != c.index {
				t.Errorf("KeyIndex = %d, want %d", i, c.index)
			}
			if v, _ := Scalar(m, c.key); v != c.value {
				t.Errorf("Scalar = %q, want %q", v, c.value)
			}
			if i, ok := KeyIndexes(m)[c.key]; (ok || c.index >= 0) && i != c.index {
				t.Errorf("KeyIndexes = %d, want %d", i, c.index)
			}
		})
	}
	t.Run("outside a mapping", func(t *testing.T) {
		if KeyIndex(nil, "a") != -1 || KeyIndex(Seq(Str("a")), "a") != -1 || Get(nil, "a") != nil {
			t.Error("a key was found outside a mapping")
		}
	})
	t.Run("set the key read", func(t *testing.T) {
		Set(m, "a", Str("5"))
		if m.Content[1].Value != "1" || m.Content[5].Value != "5" {
			t.Errorf("Set changed %q and %q", m.Content[1].Value, m.Content[5].Value)
		}
	})
}
