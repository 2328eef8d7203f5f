package annotations

import (
	"strings"
	"testing"
	"time"
)

func TestParseBool(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"yes", true, false}, {"Y", true, false}, {"TRUE", true, false}, {" true ", true, false},
		{"no", false, false}, {"N", false, false}, {"False", false, false},
		{"enabled", false, true}, {"", false, true}, {"1", false, true},
	} {
		got, err := ParseBool(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseNativeMode(t *testing.T) {
	for in, want := range map[string]NativeMode{"auto": NativeAuto, "AUTO": NativeAuto, "true": NativeOn, "yes": NativeOn, "false": NativeOff, "n": NativeOff} {
		if got, err := ParseNativeMode(in); err != nil || got != want {
			t.Errorf("ParseNativeMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseNativeMode("sometimes"); err == nil || !strings.Contains(err.Error(), "auto, or yes/y/true, no/n/false") {
		t.Errorf("ParseNativeMode(sometimes) error = %v, want the allowed values", err)
	}
}

func TestParseServicePorts(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		// errHas is part of the error message; empty means no error.
		errHas string
	}{
		{"rest:8080", "rest:8080", ""},
		{"rest:8080, grpc:9090 ,dubbo:20880", "rest:8080,grpc:9090,dubbo:20880", ""},
		{"rest:1", "rest:1", ""},
		{"rest:65535", "rest:65535", ""},
		{"http:9999", "", "use rest (rest:9999)"},
		{"HTTPS:443", "", "use rest (rest:443)"},
		{"tcp:80", "", "not one of rest, grpc, dubbo"},
		{"REST:80", "", "not one of rest, grpc, dubbo"},
		{"rest:0", "", "from 1 to 65535"},
		{"rest:65536", "", "from 1 to 65535"},
		{"rest:http", "", "from 1 to 65535"},
		{"rest:-1", "", "from 1 to 65535"},
		{"8080", "", "is not proto:port"},
		{"rest:8080:1", "", "is not proto:port"},
		{"rest:", "", "is not proto:port"},
		{":8080", "", "is not proto:port"},
		{"rest:8080,", "", "is not proto:port"},
		{"rest:8080,grpc:8080", "", "listed twice"},
		{"rest:8080,rest:08080", "", "listed twice"},
	} {
		got, err := ParseServicePorts(tc.in)
		switch {
		case tc.errHas == "" && (err != nil || got != tc.want):
			t.Errorf("ParseServicePorts(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
			t.Errorf("ParseServicePorts(%q) error = %v; want one containing %q", tc.in, err, tc.errHas)
		}
	}
}

func TestParseQuantity(t *testing.T) {
	for _, in := range []string{"100m", "0.5", "2", "128Mi", "1Gi", " 1G "} {
		if got, err := ParseQuantity(in); err != nil || got != strings.TrimSpace(in) {
			t.Errorf("ParseQuantity(%q) = %q, %v; want it back as written", in, got, err)
		}
	}
	for _, in := range []string{"1e99", "1E-99", "2E", "1Ei", "1e+09"} {
		if _, err := ParseQuantity(in); err != nil {
			t.Errorf("ParseQuantity(%q): %v", in, err)
		}
	}
	// Exponents whose cost explodes (minutes for these), and absurd lengths.
	for _, in := range []string{"2e170000000", "1e-170000000", "02e170000000", "1E100", "1e-0000000000100", strings.Repeat("1", 65)} {
		done := make(chan error, 1)
		go func() { _, err := ParseQuantity(in); done <- err }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("ParseQuantity(%q) accepted an absurd quantity", in)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ParseQuantity(%q) did not return within 10 s", in)
		}
	}
	for _, in := range []string{"half", "12 MB", "", "0", "-100m", "1.5.0"} {
		if _, err := ParseQuantity(in); err == nil {
			t.Errorf("ParseQuantity(%q) accepted an invalid quantity", in)
		}
	}
}

func TestCompareQuantities(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"100m", "0.5", -1}, {"1", "1000m", 0}, {"1Gi", "512Mi", 1}} {
		if got := CompareQuantities(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareQuantities(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
