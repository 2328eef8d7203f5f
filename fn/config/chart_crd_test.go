package config_test

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/inject-mesher/inject-mesher/fn/engine/template"
)

// The SidecarTemplate CRD has one source, config/webhook's; the Helm chart
// ships a copy in crds/, which Helm installs before the release's objects.
const (
	webhookCRD = "../../config/webhook/sidecartemplates-crd.yaml"
	chartCRDs  = "../../charts/inject-mesher-webhook/crds"
	chartCRD   = chartCRDs + "/sidecartemplates.yaml"
)

// The chart's copy is the kustomize install's byte for byte: a change to one
// that is not copied to the other would install another schema with Helm.
func TestChartCRDIsConfigWebhookCRD(t *testing.T) {
	want, err := os.ReadFile(webhookCRD)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(chartCRD)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not %s (%s): copy it over:\n  cp config/webhook/sidecartemplates-crd.yaml charts/inject-mesher-webhook/crds/sidecartemplates.yaml",
			chartCRD, webhookCRD, firstDifference(got, want))
	}
	// Helm installs every file in crds/: the CRD and nothing else.
	entries, err := os.ReadDir(chartCRDs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"sidecartemplates.yaml"}) {
		t.Errorf("the chart's crds/ holds %q, want sidecartemplates.yaml alone", names)
	}
}

// The CRD serves what the engine parses (template.APIVersion, template.Kind),
// cluster-scoped, with the status subresource the webhook's leader writes,
// and the kustomize install applies it.
func TestConfigWebhookCRDServesSidecarTemplates(t *testing.T) {
	data, err := os.ReadFile(webhookCRD)
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Group string `json:"group"`
			Scope string `json:"scope"`
			Names struct {
				Kind, Plural string
			} `json:"names"`
			Versions []struct {
				Name         string         `json:"name"`
				Served       bool           `json:"served"`
				Storage      bool           `json:"storage"`
				Subresources map[string]any `json:"subresources"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := sigsyaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	s := crd.Spec
	var served []string
	for _, v := range s.Versions {
		served = append(served, s.Group+"/"+v.Name)
	}
	if !slices.Equal(served, []string{template.APIVersion}) {
		t.Errorf("the CRD serves %q, the engine parses %s", served, template.APIVersion)
	}
	if s.Names.Kind != template.Kind || s.Scope != "Cluster" || crd.Metadata.Name != s.Names.Plural+"."+s.Group {
		t.Errorf("the CRD is kind %s, scope %s, named %s; want %s, Cluster, <plural>.<group>", s.Names.Kind, s.Scope, crd.Metadata.Name, template.Kind)
	}
	for _, v := range s.Versions {
		if _, ok := v.Subresources["status"]; !ok || !v.Served || !v.Storage {
			t.Errorf("version %s: served %v, storage %v, subresources %v; want served, stored, with status", v.Name, v.Served, v.Storage, v.Subresources)
		}
	}
	kustomization, err := os.ReadFile("../../config/webhook/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct{ Resources []string }
	if err := sigsyaml.Unmarshal(kustomization, &k); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(k.Resources, "sidecartemplates-crd.yaml") {
		t.Errorf("config/webhook/kustomization.yaml does not list sidecartemplates-crd.yaml: %q", k.Resources)
	}
}

// firstDifference says where two texts first differ, by line.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d is %q, want %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(g), len(w))
}
