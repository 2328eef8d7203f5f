package corpusfiles

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// AnnInject is the annotation that asks for the sidecar.
const AnnInject = "sidecar.mesher.io/inject"

// Chunk is one document of a file as text: from its `---` line (if any) up
// to the next one.
type Chunk struct {
	Text string
	Line int // 1-based line of its first line in the file
}

// IsDocStart reports whether a line starts a document: `---` at column 0
// followed by nothing, a space or a tab (yaml.v3 reads it so even inside a
// block scalar).
func IsDocStart(line string) bool {
	if !strings.HasPrefix(line, "---") {
		return false
	}
	rest := line[3:]
	return rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// SplitDocs cuts a stream into documents; the text before the first `---`
// line is document 0 (empty when the stream starts with `---`). Joining the
// chunks gives the text back.
func SplitDocs(text string) []Chunk {
	out := []Chunk{{Line: 1}}
	var b strings.Builder
	line := 1
	for rest := text; rest != ""; line++ {
		l := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			l = rest[:i+1]
		}
		rest = rest[len(l):]
		if IsDocStart(l) {
			out[len(out)-1].Text = b.String()
			b.Reset()
			out = append(out, Chunk{Line: line})
		}
		b.WriteString(l)
	}
	out[len(out)-1].Text = b.String()
	return out
}

// DocOf returns the index of the chunk that holds a line.
func DocOf(chunks []Chunk, line int) int {
	i := 0
	for j, c := range chunks {
		if c.Line <= line {
			i = j
		}
	}
	return i
}

// Location is where a kind keeps its pod template (the kinds of
// fn/engine/podtemplate, written out here independently of it).
type Location struct {
	Group, Kind string
	Path        []Step
}

// Locations lists the kinds that hold a pod template.
var Locations = []Location{
	{"", "Pod", nil},
	{"", "ReplicationController", []Step{"spec", "template"}},
	{"apps", "Deployment", []Step{"spec", "template"}},
	{"apps", "StatefulSet", []Step{"spec", "template"}},
	{"apps", "DaemonSet", []Step{"spec", "template"}},
	{"apps", "ReplicaSet", []Step{"spec", "template"}},
	{"extensions", "Deployment", []Step{"spec", "template"}},
	{"extensions", "DaemonSet", []Step{"spec", "template"}},
	{"extensions", "ReplicaSet", []Step{"spec", "template"}},
	{"batch", "Job", []Step{"spec", "template"}},
	{"batch", "CronJob", []Step{"spec", "jobTemplate", "spec", "template"}},
	{"argoproj.io", "Rollout", []Step{"spec", "template"}},
	{"apps.kruise.io", "CloneSet", []Step{"spec", "template"}},
	{"apps.openshift.io", "DeploymentConfig", []Step{"spec", "template"}},
	{"", "DeploymentConfig", []Step{"spec", "template"}},
}

// Group is the API group of an apiVersion ("" for the core group).
func Group(apiVersion string) string {
	if g, _, ok := strings.Cut(apiVersion, "/"); ok {
		return g
	}
	return ""
}

// Template is one pod template of a file.
type Template struct {
	Doc                               int    // index of the document (chunk) that holds it
	ObjPath                           []Step // from the document's root to the object (items of a List)
	Path                              []Step // from the document's root to the template
	Obj                               *yaml.Node
	Node                              *yaml.Node
	APIVersion, Kind, Name, Namespace string
}

// Ref names the template's object as the command line's report does.
func (t Template) Ref() string {
	name := t.Name
	if name == "" {
		name = "(unnamed)"
	}
	return strings.ToLower(t.Kind) + "/" + name
}

// ReportLine is the start of the command line's report line for the
// template's object: "deployment/web injected in namespace shop".
func (t Template) ReportLine(action string) string {
	line := t.Ref() + " " + action
	if t.Namespace != "" {
		line += " in namespace " + t.Namespace
	}
	return line
}

func (t Template) Where() string {
	return fmt.Sprintf("%s (document %d, line %d)", t.Ref(), t.Doc, t.Node.Line)
}

// IsPod: the template is a Pod itself, not a workload's template.
func (t Template) IsPod() bool { return len(t.Path) == len(t.ObjPath) }

// Annotation reads an annotation from the template, or the workload's
// metadata as a fallback.
func (t Template) Annotation(key string) (*yaml.Node, bool) {
	return t.meta("annotations", key)
}

// Label reads a label from the template, or the workload's metadata as a
// fallback.
func (t Template) Label(key string) (*yaml.Node, bool) {
	return t.meta("labels", key)
}

func (t Template) meta(field, key string) (*yaml.Node, bool) {
	if v := GetPath(t.Node, "metadata", field, key); v != nil {
		return v, true
	}
	if !t.IsPod() {
		if v := GetPath(t.Obj, "metadata", field, key); v != nil {
			return v, true
		}
	}
	return nil, false
}

// FindTemplates lists the pod templates under a document root, looking into
// the items of a v1 List, recursively.
func FindTemplates(root *yaml.Node, doc int, objPath []Step, out *[]Template) {
	obj := Deref(root)
	if !IsMap(obj) {
		return
	}
	api, kind := Str(obj, "apiVersion"), Str(obj, "kind")
	if api == "v1" && kind == "List" {
		items := GetPath(obj, "items")
		if IsSeq(items) {
			for i, it := range items.Content {
				FindTemplates(it, doc, append(append([]Step{}, objPath...), "items", i), out)
			}
		}
		return
	}
	if strings.EqualFold(Str(obj, "metadata", "annotations", "config.kubernetes.io/local-config"), "true") {
		return
	}
	for _, l := range Locations {
		if l.Kind != kind || l.Group != Group(api) {
			continue
		}
		node := GetPath(obj, l.Path...)
		if !IsMap(node) || !IsMap(Get(node, "spec")) {
			return
		}
		*out = append(*out, Template{
			Doc: doc, ObjPath: objPath, Path: append(append([]Step{}, objPath...), l.Path...),
			Obj: obj, Node: node, APIVersion: api, Kind: kind,
			Name: Str(obj, "metadata", "name"), Namespace: Str(obj, "metadata", "namespace"),
		})
		return
	}
}

// FileTemplates parses a whole file and lists its documents and pod templates.
func FileTemplates(text string) ([]Chunk, []*yaml.Node, []Template, error) {
	chunks := SplitDocs(text)
	roots, err := ParseStream(text)
	if err != nil {
		return chunks, nil, nil, err
	}
	var out []Template
	for _, r := range roots {
		FindTemplates(r, DocOf(chunks, r.Line), nil, &out)
	}
	return chunks, roots, out, nil
}

// ParseYesNo reads a yes/no annotation value as the function does; ok is
// false for any other value.
func ParseYesNo(v string) (b, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "y", "true":
		return true, true
	case "no", "n", "false":
		return false, true
	}
	return false, false
}
