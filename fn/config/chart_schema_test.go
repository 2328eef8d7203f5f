package config_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	schema "github.com/inject-mesher/inject-mesher/config"
)

// The webhook chart's values.schema.json checks the values' config with the
// function's own schema, config/schema.yaml, so that `helm install` refuses
// what the webhook would refuse at start (and crash-loop on): the same
// properties but apiVersion, kind and metadata, which the chart writes
// itself, hence nothing required; a description of its own.
func TestChartConfigSchemaIsConfigSchema(t *testing.T) {
	data, err := os.ReadFile("../../charts/inject-mesher-webhook/values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(data, &values); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	got, ok := values.Properties["config"].(map[string]any)
	if !ok {
		t.Fatalf("values.schema.json has no object property config: %v", values.Properties["config"])
	}
	var want map[string]any
	if err := sigsyaml.Unmarshal(schema.SchemaYAML, &want); err != nil {
		t.Fatal(err)
	}
	props, _ := want["properties"].(map[string]any)
	for _, k := range []string{"apiVersion", "kind", "metadata"} {
		if _, ok := props[k]; !ok {
			t.Errorf("config/schema.yaml has no property %s: what the chart leaves out has changed", k)
		}
		delete(props, k)
	}
	delete(want, "required")
	if d, _ := got["description"].(string); d == "" {
		t.Error("values.schema.json's config has no description")
	}
	delete(got, "description")
	delete(want, "description")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("values.schema.json's config is not config/schema.yaml without apiVersion, kind, metadata and required: copy it over again. Differences:\n%s",
			schemaDiff("config", got, want))
	}
}

// schemaDiff lists where two decoded JSON values differ, one line per key.
func schemaDiff(path string, got, want any) string {
	g, gok := got.(map[string]any)
	w, wok := want.(map[string]any)
	if !gok || !wok {
		if reflect.DeepEqual(got, want) {
			return ""
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		return fmt.Sprintf("  %s: the chart has %s, config/schema.yaml %s\n", path, a, b)
	}
	keys := map[string]bool{}
	for k := range g {
		keys[k] = true
	}
	for k := range w {
		keys[k] = true
	}
	var out string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		gv, inG := g[k]
		wv, inW := w[k]
		switch {
		case !inW:
			out += fmt.Sprintf("  %s.%s: only in the chart\n", path, k)
		case !inG:
			out += fmt.Sprintf("  %s.%s: only in config/schema.yaml\n", path, k)
		default:
			out += schemaDiff(path+"."+k, gv, wv)
		}
	}
	return out
}
