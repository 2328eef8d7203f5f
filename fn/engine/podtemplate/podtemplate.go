// Package podtemplate knows where each kind of workload keeps its pod template.
package podtemplate

import (
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// Location is where one kind keeps its pod template.
type Location struct {
	Group, Kind string
	// Path is the dot-separated path to the template; empty for a Pod, which is its own template.
	Path string
}

// BuiltIn lists the kinds found without any config.
func BuiltIn() []Location {
	return []Location{
		{"", "Pod", ""},
		{"", "ReplicationController", "spec.template"},
		{"apps", "Deployment", "spec.template"},
		{"apps", "StatefulSet", "spec.template"},
		{"apps", "DaemonSet", "spec.template"},
		{"apps", "ReplicaSet", "spec.template"},
		{"extensions", "Deployment", "spec.template"},
		{"extensions", "DaemonSet", "spec.template"},
		{"extensions", "ReplicaSet", "spec.template"},
		{"batch", "Job", "spec.template"},
		{"batch", "CronJob", "spec.jobTemplate.spec.template"},
		{"argoproj.io", "Rollout", "spec.template"},
		{"apps.kruise.io", "CloneSet", "spec.template"},
		{"apps.openshift.io", "DeploymentConfig", "spec.template"},
		// OpenShift 3 served DeploymentConfig in the legacy core group.
		{"", "DeploymentConfig", "spec.template"},
	}
}

// Table finds pod templates: the built-in kinds plus the config's podTemplatePaths.
type Table struct {
	locations []Location
}

// NewTable returns the built-in kinds extended (and overridden) by extra.
func NewTable(extra []config.PodTemplatePath) Table {
	t := Table{}
	for _, p := range extra {
		t.locations = append(t.locations, Location{p.Group, p.Kind, p.Path})
	}
	t.locations = append(t.locations, BuiltIn()...)
	return t
}

// Group returns the API group of an apiVersion ("apps/v1" -> "apps", "v1" -> "").
func Group(apiVersion string) string {
	if g, _, ok := strings.Cut(apiVersion, "/"); ok {
		return g
	}
	return ""
}

// Lookup returns where objects of this apiVersion and kind keep their pod template.
func (t Table) Lookup(apiVersion, kind string) (Location, bool) {
	g := Group(apiVersion)
	for _, l := range t.locations {
		if l.Kind == kind && l.Group == g {
			return l, true
		}
	}
	return Location{}, false
}

// HasKind reports whether kind is a workload kind in any group: used to decide
// cheaply, before parsing, which items can need work.
func (t Table) HasKind(kind string) bool {
	for _, l := range t.locations {
		if l.Kind == kind {
			return true
		}
	}
	return false
}

// Template is a pod template found in an object.
type Template struct {
	// Node is the template: a mapping with metadata and spec.
	Node *yaml.Node
	// Path is its dot-separated path in the object, "" for a Pod.
	Path string
}

// Field returns the path of a field of the template, for messages.
func (t Template) Field(sub string) string {
	if t.Path == "" {
		return sub
	}
	return t.Path + "." + sub
}

// Find returns the object's pod template, or false when the object has none at
// the location (a Deployment without spec.template is not ours to complete).
func (l Location) Find(obj *yaml.Node) (Template, bool) {
	node := obj
	if l.Path != "" {
		node = yamlnode.GetPath(obj, strings.Split(l.Path, ".")...)
	}
	if node == nil || node.Kind != yaml.MappingNode || yamlnode.Get(node, "spec") == nil || yamlnode.Get(node, "spec").Kind != yaml.MappingNode {
		return Template{}, false
	}
	return Template{Node: node, Path: l.Path}, true
}
