package engine

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Status is the value of the sidecar.mesher.io/status annotation: exactly what
// the injector added to a pod template, so that a re-run can strip it and
// render again (an upgrade in place) and `inject: no` can remove it. Its own
// fields are the record of the built-in template, mesher, as they were
// before there were other templates (so a pod injected with mesher only
// keeps its status byte for byte); Templates records the others.
type Status struct {
	// Containers and InitContainers name the sidecar container added.
	Containers     []string `json:"containers,omitempty"`
	InitContainers []string `json:"initContainers,omitempty"`
	// Volumes names the volumes added.
	Volumes []string `json:"volumes,omitempty"`
	// ImagePullSecrets names the pull secrets added (not the ones the pod had).
	ImagePullSecrets []string `json:"imagePullSecrets,omitempty"`
	// Env lists, per app container, the variables added to it.
	Env map[string][]string `json:"env,omitempty"`
	// Created lists the fields the injection had to create, removed again when
	// they are empty after stripping, so uninjection gives back the original.
	Created []string `json:"created,omitempty"`
	// ClipEnd: the object's text ended in a block scalar with clip chomping
	// ("|" or ">") and no final newline. Text written after it (the sidecar,
	// or the next object) made it strip chomping ("|-") to keep its value;
	// stripping gives the text that end back. It is a fact of the text:
	// only the command line and the KRM function record it.
	ClipEnd bool `json:"clipEnd,omitempty"`
	// Hash digests everything that shaped mesher's injection: equal hash,
	// nothing to do. Empty when the pod does not have mesher.
	Hash string `json:"hash,omitempty"`
	// Templates records each other template the pod has, in the order
	// selected.
	Templates []TemplateStatus `json:"templates,omitempty"`
}

// TemplateStatus is what one SidecarTemplate added to a pod template.
type TemplateStatus struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Hash digests what the template added to this pod (its parameter
	// values and the app containers given its env and mounts included).
	Hash           string   `json:"hash"`
	Containers     []string `json:"containers,omitempty"`
	InitContainers []string `json:"initContainers,omitempty"`
	Volumes        []string `json:"volumes,omitempty"`
	// Env and VolumeMounts list, per app container, the variables (by name)
	// and mounts (by mountPath) added to it.
	Env          map[string][]string `json:"env,omitempty"`
	VolumeMounts map[string][]string `json:"volumeMounts,omitempty"`
	// ConfigMaps names the template's ConfigMaps the pod mounts.
	ConfigMaps []string `json:"configMaps,omitempty"`
}

// record is what one template (mesher or another) added, as a status
// lists it: what stripping it removes.
type record struct {
	name, hash                              string
	containers, inits, volumes, pullSecrets []string
	env, mounts                             map[string][]string
	status                                  *TemplateStatus
}

// records lists what the status says each template added, mesher first.
func (s *Status) records() []record {
	if s == nil {
		return nil
	}
	var out []record
	if s.Hash != "" {
		out = append(out, record{name: mesherTemplate, hash: s.Hash, containers: s.Containers, inits: s.InitContainers,
			volumes: s.Volumes, pullSecrets: s.ImagePullSecrets, env: s.Env})
	}
	for i := range s.Templates {
		t := &s.Templates[i]
		out = append(out, record{name: t.Name, hash: t.Hash, containers: t.Containers, inits: t.InitContainers,
			volumes: t.Volumes, env: t.Env, mounts: t.VolumeMounts, status: t})
	}
	return out
}

func parseStatus(v string) (*Status, error) {
	var s Status
	if err := json.Unmarshal([]byte(v), &s); err != nil || s.Hash == "" && len(s.Templates) == 0 {
		return nil, fmt.Errorf("%q is not a status written by inject-mesher; remove the annotation and the sidecar it describes, then run again", clip(v))
	}
	for _, t := range s.Templates {
		if t.Name == "" || t.Hash == "" || t.Name == mesherTemplate {
			return nil, fmt.Errorf("%q is not a status written by inject-mesher (a template record without a name or hash); remove the annotation and the sidecars it describes, then run again", clip(v))
		}
	}
	return &s, nil
}

func (s *Status) String() string {
	b, _ := json.Marshal(s) // a struct of strings: cannot fail
	return string(b)
}

func (s *Status) lists(container string) bool {
	return slices.Contains(s.Containers, container) || slices.Contains(s.InitContainers, container)
}

// has reports whether the status records the template.
func (s *Status) has(name string) bool {
	for _, r := range s.records() {
		if r.name == name {
			return true
		}
	}
	return false
}

// owns reports whether any template's record lists the container: it is a
// sidecar, not one of the app's.
func (s *Status) owns(container string) bool {
	if s == nil {
		return false
	}
	if s.lists(container) {
		return true
	}
	for _, t := range s.Templates {
		if slices.Contains(t.Containers, container) || slices.Contains(t.InitContainers, container) {
			return true
		}
	}
	return false
}

func clip(v string) string {
	if len(v) > 80 {
		return v[:77] + "..."
	}
	return v
}
