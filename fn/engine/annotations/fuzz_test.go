package annotations

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Fuzz targets for the annotation parsers. `make fuzz` runs each for a set
// time; `go test` replays the seeds in testdata/fuzz/<Target>/ at the top of
// the repository (one input per file) and any crasher Go saved under this
// package's testdata/fuzz/<Target>/.

// addSeeds adds every file of ../../testdata/fuzz/<target>/ as one input.
func addSeeds(f *testing.F, target string) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "fuzz", target, "*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed corpus in testdata/fuzz/%s: %v", target, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.TrimSuffix(string(b), "\n"))
	}
}

// A value ParseServicePorts accepts comes back normalised, parses again to
// itself, and holds only known protocols with distinct ports in range.
func FuzzParseServicePorts(f *testing.F) {
	addSeeds(f, "FuzzParseServicePorts")
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseServicePorts(v)
		if err != nil {
			checkRejected(t, "ParseServicePorts", v, got, err)
			return
		}
		again, err := ParseServicePorts(got)
		if err != nil || again != got {
			t.Fatalf("ParseServicePorts(%q) = %q, which parses to %q, %v", v, got, again, err)
		}
		seen := map[string]bool{}
		for _, e := range strings.Split(got, ",") {
			proto, port, _ := strings.Cut(e, ":")
			if !knownProtocol(proto) {
				t.Fatalf("ParseServicePorts(%q) = %q: unknown protocol %q", v, got, proto)
			}
			p, err := strconv.Atoi(port)
			if err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
				t.Fatalf("ParseServicePorts(%q) = %q: bad port %q", v, got, port)
			}
			if seen[port] {
				t.Fatalf("ParseServicePorts(%q) = %q: port %s twice", v, got, port)
			}
			seen[port] = true
		}
	})
}

// ParseBool accepts exactly the documented words, in any case, blanks around.
func FuzzParseBool(f *testing.F) {
	addSeeds(f, "FuzzParseBool")
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseBool(v)
		word := strings.ToLower(strings.TrimSpace(v))
		switch word {
		case "yes", "y", "true":
			if err != nil || !got {
				t.Fatalf("ParseBool(%q) = %v, %v; want true", v, got, err)
			}
		case "no", "n", "false":
			if err != nil || got {
				t.Fatalf("ParseBool(%q) = %v, %v; want false", v, got, err)
			}
		default:
			if err == nil {
				t.Fatalf("ParseBool(%q) = %v, want an error", v, got)
			}
			if !strings.Contains(err.Error(), "allowed values") {
				t.Fatalf("ParseBool(%q): the error does not say what is allowed: %v", v, err)
			}
		}
	})
}

// ParseNativeMode is auto or a ParseBool value, and nothing else.
func FuzzParseNativeMode(f *testing.F) {
	addSeeds(f, "FuzzParseNativeMode")
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseNativeMode(v)
		b, boolErr := ParseBool(v)
		switch {
		case strings.EqualFold(strings.TrimSpace(v), "auto"):
			if err != nil || got != NativeAuto {
				t.Fatalf("ParseNativeMode(%q) = %q, %v; want auto", v, got, err)
			}
		case boolErr == nil:
			want := NativeOff
			if b {
				want = NativeOn
			}
			if err != nil || got != want {
				t.Fatalf("ParseNativeMode(%q) = %q, %v; want %q", v, got, err, want)
			}
		default:
			if err == nil || got != "" {
				t.Fatalf("ParseNativeMode(%q) = %q, %v; want an error", v, got, err)
			}
		}
	})
}

// A quantity ParseQuantity accepts is returned as written (trimmed), is
// positive, parses again, and compares equal to itself without a panic.
func FuzzParseQuantity(f *testing.F) {
	addSeeds(f, "FuzzParseQuantity")
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseQuantity(v)
		if err != nil {
			checkRejected(t, "ParseQuantity", v, got, err)
			return
		}
		if got != strings.TrimSpace(v) {
			t.Fatalf("ParseQuantity(%q) = %q, want the value as written", v, got)
		}
		if again, err := ParseQuantity(got); err != nil || again != got {
			t.Fatalf("ParseQuantity(%q) = %q, which parses to %q, %v", v, got, again, err)
		}
		if c := CompareQuantities(got, got); c != 0 {
			t.Fatalf("CompareQuantities(%q, itself) = %d", got, c)
		}
		if CompareQuantities(got, "0") <= 0 {
			t.Fatalf("ParseQuantity(%q) accepted a quantity that is not above zero", v)
		}
	})
}

// checkRejected: a parser that refuses a value returns nothing with the error,
// and the error names the value it refused.
func checkRejected(t *testing.T, parser, v, got string, err error) {
	t.Helper()
	if got != "" {
		t.Fatalf("%s(%q) returned %q with error %v", parser, v, got, err)
	}
	if !strings.Contains(err.Error(), strconv.Quote(v)) {
		t.Fatalf("%s(%q): the error does not name the value: %v", parser, v, err)
	}
}
