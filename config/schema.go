// Package config embeds the function config's OpenAPI v3 schema, so the code,
// the tests and catalog.yaml all read one file.
package config

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"
)

// SchemaYAML is config/schema.yaml.
//
//go:embed schema.yaml
var SchemaYAML []byte

// Schema parses the embedded schema.
func Schema() (*spec.Schema, error) {
	j, err := yaml.YAMLToJSON(SchemaYAML)
	if err != nil {
		return nil, err
	}
	s := &spec.Schema{}
	if err := json.Unmarshal(j, s); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate checks a function config document (YAML) against the schema.
func Validate(doc []byte) error {
	s, err := Schema()
	if err != nil {
		return fmt.Errorf("schema: %v", err)
	}
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return err
	}
	return validate.AgainstSchema(s, v, strfmt.Default)
}
