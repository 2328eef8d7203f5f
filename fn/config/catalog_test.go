package config_test

import (
	"os"
	"reflect"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	schema "github.com/inject-mesher/inject-mesher/config"
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
