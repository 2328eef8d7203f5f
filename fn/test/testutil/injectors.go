package testutil

import (
	"sync"

	"github.com/inject-mesher/inject-mesher/fn/engine"
)

// Injectors stands in tests for the webhook's source of the Injector (the
// SidecarTemplates' Source): an Injector the test swaps with Set, which
// closes the channel Changed gave, as a new Snapshot does.
type Injectors struct {
	mu      sync.Mutex
	inj     *engine.Injector
	changed chan struct{}
}

// NewInjectors starts with inj.
func NewInjectors(inj *engine.Injector) *Injectors {
	return &Injectors{inj: inj, changed: make(chan struct{})}
}

// Injector is the Injector now.
func (s *Injectors) Injector() *engine.Injector {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inj
}

// Changed is closed at the next Set.
func (s *Injectors) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Set swaps the Injector and says so to whoever waits on Changed.
func (s *Injectors) Set(inj *engine.Injector) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inj = inj
	close(s.changed)
	s.changed = make(chan struct{})
}
