package krm_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/inject-mesher/inject-mesher/fn/frontend/krm"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/test/bench/corpus"
)

// A whole ResourceList of 1,000 mixed workloads through the KRM front end;
// ns/op divided by 1,000 is the time per workload.
func BenchmarkResourceList1000(b *testing.B) {
	var list bytes.Buffer
	if err := corpus.Workloads(&list, 1000, 1); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(list.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if code := krm.Run(list.Bytes(), io.Discard, io.Discard); code != 0 {
			b.Fatal("exit", code)
		}
	}
}

// The first render of a repository that just joined the mesh: 1,000
// Deployments that all need a sidecar.
func BenchmarkResourceListAllFresh1000(b *testing.B) {
	var list bytes.Buffer
	if err := corpus.Fresh(&list, 1000); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(list.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if code := krm.Run(list.Bytes(), io.Discard, io.Discard); code != 0 {
			b.Fatal("exit", code)
		}
	}
}

// The streaming floor on the same all-fresh list, in the same run: split
// the items, parse each and write it back, no injection (what
// fn/test/bench/cmd/stream-noop does). The function's target is at most this.
func BenchmarkStreamingFloorAllFresh1000(b *testing.B) {
	var list bytes.Buffer
	if err := corpus.Fresh(&list, 1000); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(list.Len()))
	b.ReportAllocs()
	for b.Loop() {
		l, err := manifest.SplitResourceList(list.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range l.Items {
			node, err := manifest.ParseItem(it.Raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := manifest.EncodeItem(node, max(l.ItemsIndent, 0)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// The same first render with every workload selecting mesher and the
// example log collector (a logPath each), beside mesher only, in one run:
// BenchmarkTemplates/MesherAndLogCollector over BenchmarkTemplates/MesherOnly
// is the cost of a second template (target at most 1.3 x).
func BenchmarkTemplates(b *testing.B) {
	tmpl, err := os.ReadFile("../../../examples/templates/package/sidecartemplates/log-collector.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"MesherOnly", func(w *bytes.Buffer) error { return corpus.Fresh(w, 1000) }},
		{"MesherAndLogCollector", func(w *bytes.Buffer) error {
			return corpus.FreshWithTemplate(w, 1000, "log-collector", tmpl, "logPath")
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var list bytes.Buffer
			if err := c.write(&list); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if code := krm.Run(list.Bytes(), io.Discard, io.Discard); code != 0 {
					b.Fatal("exit", code)
				}
			}
		})
	}
}
