// Package templates brings the cluster's SidecarTemplates to the webhook.
// Every replica watches the SidecarTemplate objects (an informer on the
// CRD, as unstructured objects) and, whenever one is added, changed or
// deleted, builds a new engine.Injector from them and the config's
// templates, which the admission handler swaps in whole (an Injector is
// read-only: a new set of templates is a new Injector). A template the
// function would refuse is kept in the set with its problems, so that a Pod
// that asks for it is denied with them; a deleted one is gone, so that a Pod
// that asks for it is denied as asking for an unknown template. Never a
// half-injected Pod. The leader writes each template's Valid condition
// (WriteStatus).
package templates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/template"
	"github.com/inject-mesher/inject-mesher/fn/read/jsonnode"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
)

// ConfigOrigin names the config's templates in messages.
const ConfigOrigin = "the webhook's config"

// Origin names a cluster template in messages.
func Origin(name string) string { return template.Kind + " " + name + " in the cluster" }

// Source keeps the Injector of the config and the cluster's SidecarTemplates
// up to date. Start it once; Injector, Snapshot and Changed are safe for
// concurrent use.
type Source struct {
	Client kube.Client
	Config *config.Config
	Log    *slog.Logger
	// Use is given each new Injector, the first before Start returns (the
	// admission handler's SetInjector).
	Use func(*engine.Injector)
	// SyncTimeout bounds Start's wait for the first list (default a minute).
	SyncTimeout time.Duration

	informer cache.SharedIndexInformer
	current  atomic.Pointer[Snapshot]
	// dirty asks the rebuild loop for a new Snapshot.
	dirty chan struct{}
	// mu guards changed, closed and replaced at each new Snapshot.
	mu      sync.Mutex
	changed chan struct{}
	// built are the cluster's entries by uid and generation, so that a
	// rebuild validates only what changed (only the rebuild loop reads and
	// writes it).
	built map[builtKey]*template.Entry
}

type builtKey struct {
	uid        types.UID
	generation int64
}

// Snapshot is one state of the templates: the Injector built from them and
// what each cluster template was found to be.
type Snapshot struct {
	Injector *engine.Injector
	// Checked is each SidecarTemplate object of the cluster, by name.
	Checked map[string]Checked
}

// Checked is a cluster template as the Injector holds it.
type Checked struct {
	Entry *template.Entry
	// UID and Generation are the object's the entry was built from.
	UID        types.UID
	Generation int64
}

// Start watches the cluster's SidecarTemplates, hands Use the first
// Injector once they are listed, and keeps building new ones until ctx
// ends. Without the CRD (a chart upgraded without its crds/: Helm never
// upgrades CRDs) the webhook serves with the config's templates, says so,
// and takes the cluster's up once the CRD is there. Any other failure to
// list them within SyncTimeout is an error: the replica never serves
// without templates it could not read.
func (s *Source) Start(ctx context.Context) error {
	s.dirty = make(chan struct{}, 1)
	s.changed = make(chan struct{})
	s.built = map[builtKey]*template.Entry{}
	s.informer = kube.Informer(s.Client.SidecarTemplates(), &unstructured.Unstructured{}, nil)
	// managedFields is never read here, and often the largest part.
	_ = s.informer.SetTransform(func(obj any) (any, error) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			u.SetManagedFields(nil)
		}
		return obj, nil
	})
	mark := func(any) { s.markDirty() }
	_, _ = s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    mark,
		UpdateFunc: func(_, obj any) { mark(obj) },
		DeleteFunc: mark,
	})
	// Missing is the first list's NotFound (no CRD); other list and watch
	// errors are logged at most once a minute, for the informer retries
	// them itself.
	missing := make(chan struct{})
	var missingOnce sync.Once
	var lastLogged time.Time
	_ = s.informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		if apierrors.IsNotFound(err) {
			missingOnce.Do(func() { close(missing) })
			return
		}
		if time.Since(lastLogged) >= time.Minute {
			lastLogged = time.Now()
			s.Log.Warn("watching SidecarTemplates", "error", err.Error())
		}
	})
	go s.informer.RunWithContext(ctx)

	timeout := s.SyncTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	synced := make(chan struct{})
	go func() {
		if cache.WaitForCacheSync(wctx.Done(), s.informer.HasSynced) {
			close(synced)
		}
	}()
	select {
	case <-synced:
	case <-missing:
		s.Log.Warn("no SidecarTemplate CRD in the cluster: only the config's templates are served until it is installed", "crd", kube.SidecarTemplates.GroupResource().String())
	case <-wctx.Done():
		return errors.New("the SidecarTemplates could not be read from the cluster (is the webhook allowed to list sidecartemplates.fn.mesher.io?)")
	}
	s.rebuild()
	go s.loop(ctx)
	return nil
}

func (s *Source) markDirty() {
	select {
	case s.dirty <- struct{}{}:
	default: // a rebuild is already asked for: it reads the store then
	}
}

// loop rebuilds after each change until ctx ends; events that come during
// a rebuild are taken by the next one.
func (s *Source) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dirty:
			s.rebuild()
		}
	}
}

// Snapshot is the templates now; nil before Start.
func (s *Source) Snapshot() *Snapshot { return s.current.Load() }

// Injector is the Injector now.
func (s *Source) Injector() *engine.Injector { return s.current.Load().Injector }

// Changed is closed at the next new Snapshot. Taken before reading
// Snapshot, it misses no change: for { ch := s.Changed(); use(s.Snapshot()); <-ch }.
func (s *Source) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Object is the SidecarTemplate object of that name as last seen.
func (s *Source) Object(name string) (*unstructured.Unstructured, bool) {
	obj, ok, _ := s.informer.GetStore().GetByKey(name)
	u, isU := obj.(*unstructured.Unstructured)
	return u, ok && isU
}

// Watch adds handler to the informer's (the leader's status writer);
// remove it with the registration's RemoveEventHandler.
func (s *Source) Watch(handler cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error) {
	return s.informer.AddEventHandler(handler)
}

// RemoveWatch removes a handler Watch added.
func (s *Source) RemoveWatch(r cache.ResourceEventHandlerRegistration) {
	_ = s.informer.RemoveEventHandler(r)
}

// rebuild makes the Snapshot of the objects in the informer's store, and
// hands its Injector to Use, unless no template changed (a status written,
// a resync).
func (s *Source) rebuild() {
	var objs []*unstructured.Unstructured
	for _, o := range s.informer.GetStore().List() {
		if u, ok := o.(*unstructured.Unstructured); ok {
			objs = append(objs, u)
		}
	}
	slices.SortFunc(objs, func(a, b *unstructured.Unstructured) int { return strings.Compare(a.GetName(), b.GetName()) })
	prev := s.current.Load()
	if prev != nil && same(prev, objs) {
		return
	}
	checked := make(map[string]Checked, len(objs))
	built := make(map[builtKey]*template.Entry, len(objs))
	for _, o := range objs {
		k := builtKey{o.GetUID(), o.GetGeneration()}
		e, ok := s.built[k]
		if !ok {
			e = Entry(o)
		}
		built[k] = e
		checked[o.GetName()] = Checked{Entry: e, UID: o.GetUID(), Generation: o.GetGeneration()}
	}
	s.built = built
	inj, err := s.injector(checked)
	if err != nil {
		// Not expected (the cluster's names are unique, and one that is also
		// a config template's is made an entry of its own): keep serving
		// with the templates as they were.
		s.Log.Error("building the injector from the SidecarTemplates", "error", err.Error())
		return
	}
	snap := &Snapshot{Injector: inj, Checked: checked}
	s.current.Store(snap)
	if s.Use != nil {
		s.Use(inj)
	}
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.Log.Info("SidecarTemplates loaded", "cluster", len(checked), "invalid", invalid(checked))
}

// same: the snapshot was built from these objects (names, uids and
// generations: a status or metadata change is no template change).
func same(snap *Snapshot, objs []*unstructured.Unstructured) bool {
	if len(snap.Checked) != len(objs) {
		return false
	}
	for _, o := range objs {
		c, ok := snap.Checked[o.GetName()]
		if !ok || c.UID != o.GetUID() || c.Generation != o.GetGeneration() {
			return false
		}
	}
	return true
}

func invalid(checked map[string]Checked) int {
	n := 0
	for _, c := range checked {
		if len(c.Entry.Problems) > 0 {
			n++
		}
	}
	return n
}

func (s *Source) injector(checked map[string]Checked) (*engine.Injector, error) {
	return Injector(s.Config, checked)
}

// Injector is cfg's Injector with its templates, those of files (the live
// audit's --templates) and the cluster's (checked is updated where a
// cluster template is refused): what the webhook admits with, and what the
// live audit judges with. A cluster template named as one of the config's
// or the files' makes that name an entry whose problem says so: a Pod
// asking for it is denied, as the function refuses two templates of one
// name, rather than given one of them.
func Injector(cfg *config.Config, checked map[string]Checked, files ...*template.Entry) (*engine.Injector, error) {
	var entries []*template.Entry
	fromConfig := map[string]string{} // a name to where the config's or a file's template is
	for _, t := range cfg.Templates {
		fromConfig[t.Name] = ConfigOrigin
		if _, clash := checked[t.Name]; !clash {
			entries = append(entries, template.Prepare(t, ConfigOrigin))
		}
	}
	for _, e := range files {
		fromConfig[e.Template.Name] = e.Origin
		if _, clash := checked[e.Template.Name]; !clash {
			entries = append(entries, e)
		}
	}
	names := make([]string, 0, len(checked))
	for name := range checked {
		names = append(names, name)
	}
	slices.Sort(names) // a stable order: which clash is reported against which
	for _, name := range names {
		c := checked[name]
		if origin, ok := fromConfig[name]; ok {
			c.Entry = twice(c.Entry, origin)
			checked[name] = c
		}
		entries = append(entries, c.Entry)
	}
	// Two templates that generate one ConfigMap name: both refused, as the
	// function refuses them, and the cluster's marked not Valid.
	for i, p := range template.ConfigMapClashes(entries) {
		entries[i] = entries[i].WithProblem(p)
		if c, ok := checked[entries[i].Template.Name]; ok && entries[i].Origin == c.Entry.Origin {
			c.Entry = entries[i]
			checked[entries[i].Template.Name] = c
		}
	}
	set, err := template.NewSet(entries...)
	if err != nil {
		return nil, err
	}
	inj := engine.New(cfg, nil)
	inj.Templates = set
	return inj, nil
}

// twice is a cluster template's entry when the config (or a file, origin)
// has one of its name.
func twice(e *template.Entry, origin string) *template.Entry {
	name := e.Template.Name
	return &template.Entry{Template: e.Template, Origin: e.Origin, Problems: []template.Problem{{Template: name, Field: "metadata.name",
		Message: fmt.Sprintf("%s is also the name of a template in %s: a Pod that asks for it gets neither; rename one of them", name, origin)}}}
}

// Entry is the template a SidecarTemplate object holds, validated as the
// function validates one (origin: Origin). An object that does not parse as
// a template (the CRD's schema keeps the fields of containers and volumes
// as written, so a typo there reaches the webhook) is an entry whose problem
// is the parse error: a Pod that asks for it is denied with it.
func Entry(obj *unstructured.Unstructured) *template.Entry {
	name := obj.GetName()
	node, err := templateNode(obj)
	if err != nil {
		return unparsed(name, nil, err)
	}
	t, err := template.Parse(node)
	if err != nil {
		return unparsed(name, node, err)
	}
	return template.Prepare(t, Origin(name))
}

// templateNode is the object as a template document: apiVersion, kind, the
// name and spec (the API server's metadata and the leader's status are not
// the template's).
func templateNode(obj *unstructured.Unstructured) (*yaml.Node, error) {
	doc := map[string]any{"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(), "metadata": map[string]any{"name": obj.GetName()}}
	if spec, ok := obj.Object["spec"]; ok {
		doc["spec"] = spec
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return jsonnode.Parse(raw)
}

// unparsed is the entry of an object that is no template: Parse's error
// ("SidecarTemplate <name>: <field>: <message>") as its one problem.
func unparsed(name string, node *yaml.Node, err error) *template.Entry {
	msg := strings.TrimPrefix(err.Error(), template.Kind+" "+name+": ")
	field, rest, ok := strings.Cut(msg, ": ")
	if !ok || strings.Contains(field, " ") {
		field, rest = "spec", msg
	}
	if node == nil {
		node = yamlnode.Map()
	}
	return &template.Entry{Template: &template.Template{Name: name, Node: node}, Origin: Origin(name),
		Problems: []template.Problem{{Template: name, Field: field, Message: rest}}}
}
