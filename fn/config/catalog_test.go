package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	schema "github.com/inject-mesher/inject-mesher/config"
	"github.com/inject-mesher/inject-mesher/fn/config"
)

// catalog.yaml carries the same schema as config/schema.yaml.
func TestCatalogSchemaIsConfigSchema(t *testing.T) {
	data, err := os.ReadFile("../../catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var catalog struct {
		Spec struct {
			KRMFunctions []struct {
				Versions []struct {
					Idempotent bool `json:"idempotent"`
					Schema     struct {
						OpenAPIV3Schema any `json:"openAPIV3Schema"`
					} `json:"schema"`
				} `json:"versions"`
			} `json:"krmFunctions"`
		} `json:"spec"`
	}
	if err := sigsyaml.Unmarshal(data, &catalog); err != nil {
		t.Fatal(err)
	}
	var want any
	if err := sigsyaml.Unmarshal(schema.SchemaYAML, &want); err != nil {
		t.Fatal(err)
	}
	if len(catalog.Spec.KRMFunctions) != 1 || len(catalog.Spec.KRMFunctions[0].Versions) != 1 {
		t.Fatalf("want one function with one version, got %+v", catalog.Spec.KRMFunctions)
	}
	v := catalog.Spec.KRMFunctions[0].Versions[0]
	if !v.Idempotent {
		t.Error("the function is idempotent and says so")
	}
	if !reflect.DeepEqual(v.Schema.OpenAPIV3Schema, want) {
		t.Error("catalog.yaml's openAPIV3Schema differs from config/schema.yaml: copy it over again")
	}
}

// Every MesherInjection config the project ships or tests with, outside the
// cases that are invalid on purpose, is valid by the catalog's schema and
// accepted by the code: the schema says what the code reads.
func TestEveryShippedConfigMatchesTheSchema(t *testing.T) {
	var files []string
	for _, pattern := range []string{
		"../../examples/*/*.yaml", "../../examples/*/*/*.yaml", "../../examples/*/*/*/*.yaml",
		"../../testdata/golden/*/config.yaml", "../../testdata/e2e/*/*.yaml", "../../testdata/e2e/*/*/*.yaml",
		"../../config/*.yaml",
	} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	invalidOnPurpose := map[string]bool{"config-unknown-key": true, "config-bad-values": true}
	checked := 0
	for _, f := range files {
		if invalidOnPurpose[filepath.Base(filepath.Dir(f))] || filepath.Base(f) == "schema.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if sigsyaml.Unmarshal(data, &head) != nil || head.Kind != config.Kind || head.APIVersion != config.APIVersion {
			continue
		}
		if err := schema.Validate(data); err != nil {
			t.Errorf("%s: not valid by the schema: %v", f, err)
		}
		if _, errs := config.FromObject(parse(t, string(data))); len(errs) > 0 {
			t.Errorf("%s: refused by the code: %v", f, errs)
		}
		checked++
	}
	t.Logf("%d function configs checked", checked)
	if checked < 10 {
		t.Errorf("only %d function configs found", checked)
	}
}
