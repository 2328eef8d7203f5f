package engine

import (
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Action is what happened to one object.
type Action string

const (
	Injected   Action = "injected"
	Upgraded   Action = "upgraded"
	Uninjected Action = "uninjected"
	Unchanged  Action = "unchanged"
	Skipped    Action = "skipped"
	Failed     Action = "failed"
)

// Report is the outcome for one object (or one item of a List): what
// happened to it and what the user is told. It is recorded once; each front
// end renders it its own way (a report line and messages on the command
// line, KRM results, admission warnings or a denial).
type Report struct {
	// Resource is the object reported on; nil when there is none to name
	// (text that is not YAML, an object without a kind, the run itself).
	Resource *Resource
	Action   Action
	// Reason says why an object was skipped; empty otherwise.
	Reason SkipReason
	// Note is advice for the user on an object that was processed, such as
	// annotations found on the workload instead of its pod template.
	Note     string
	Messages []Message
	// File is where the object came from, when the caller knows.
	File *File
	// Unparsable: the object's text is not YAML.
	Unparsable bool
}

// Resource names an object (in JSON, as a KRM result's resourceRef does).
type Resource struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
}

// File is where an object came from: a file and the object's position in it.
type File struct {
	Path  string
	Index int
}

// Severity says how much a message weighs: an error refuses the object, a
// warning is worth reading, info says what was done. The values are the KRM
// results' severities.
type Severity string

const (
	Info    Severity = "info"
	Warning Severity = "warning"
	Error   Severity = "error"
)

// Message is one thing the user is told about an object.
type Message struct {
	Severity Severity
	Text     string
	// Field is the path of the field it is about, Value what is written
	// there; both empty when it is about the whole object.
	Field, Value string
	// Code names the kind of problem, for an audit to tell kinds apart
	// without reading the text; empty for most messages.
	Code Code
}

// Code is a stable name for a kind of problem.
type Code string

const (
	// InvalidAnnotation: a sidecar.mesher.io/* annotation (or a template's
	// parameter annotation) whose value is refused.
	InvalidAnnotation Code = "InvalidAnnotation"
	// UnknownTemplate: a template is selected that is not loaded.
	UnknownTemplate Code = "UnknownTemplate"
)

// Failed reports whether any message is an error.
func (r *Report) Failed() bool {
	for _, m := range r.Messages {
		if m.Severity == Error {
			return true
		}
	}
	return false
}

// Describe writes message m of the report on one line for people: file,
// object, field and text, as the command line prints warnings and errors
// and the webhook its warnings and denials.
func (r *Report) Describe(m Message) string {
	var parts []string
	if r.File != nil && r.File.Path != "" {
		parts = append(parts, r.File.Path)
	}
	if r.Resource != nil {
		parts = append(parts, r.Resource.String())
	}
	if m.Field != "" {
		parts = append(parts, m.Field)
	}
	return strings.Join(append(parts, m.Text), ": ")
}

// String names the object as kubectl does, kind/name; one with only a
// generateName has no name yet.
func (r Resource) String() string {
	name := r.Name
	if name == "" {
		name = "(unnamed)"
	}
	return strings.ToLower(r.Kind) + "/" + name
}

// Named is the resource for a report to name: nil when it has no kind, as
// it then names no object a user could look up.
func (r Resource) Named() *Resource {
	if r.Kind == "" {
		return nil
	}
	return &r
}

// Ref reads what names obj.
func Ref(obj *yaml.Node) Resource {
	api, _ := yamlnode.Scalar(obj, "apiVersion")
	kind, _ := yamlnode.Scalar(obj, "kind")
	name, _ := yamlnode.Scalar(obj, "metadata", "name")
	ns, _ := yamlnode.Scalar(obj, "metadata", "namespace")
	return Resource{APIVersion: api, Kind: kind, Name: name, Namespace: ns}
}

func failure(ref Resource, field, value, msg string) Outcome {
	return Outcome{Reports: []Report{{Resource: ref.Named(), Action: Failed, Messages: []Message{{Severity: Error, Text: msg, Field: field, Value: value}}}}}
}

func info(msg string) []Message { return []Message{{Severity: Info, Text: msg}} }
