package engine

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Status is the value of the sidecar.mesher.io/status annotation: exactly what
// the injector added to a pod template, so that a re-run can strip it and
// render again (an upgrade in place) and `inject: no` can remove it.
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
	// Hash digests everything that shaped the injection: equal hash, nothing to do.
	Hash string `json:"hash"`
}

func parseStatus(v string) (*Status, error) {
	var s Status
	if err := json.Unmarshal([]byte(v), &s); err != nil || s.Hash == "" {
		return nil, fmt.Errorf("%q is not a status written by inject-mesher; remove the annotation and the sidecar it describes, then run again", clip(v))
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

func clip(v string) string {
	if len(v) > 80 {
		return v[:77] + "..."
	}
	return v
}
