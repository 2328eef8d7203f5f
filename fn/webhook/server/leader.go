package server

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/inject-mesher/inject-mesher/fn/webhook/kube"
)

// The election's timings, client-go's usual ones: a Lease not renewed for
// leaseDuration is free; candidates try, and the leader renews, every
// retryPeriod; a leader that has not renewed for renewDeadline stops.
const (
	leaseDuration = 15 * time.Second
	renewDeadline = 10 * time.Second
	retryPeriod   = 2 * time.Second
)

// lead campaigns for the Lease name in cl's namespace as identity and, while
// this replica holds it, runs jobs side by side: they stop when it stops
// leading, and start again when it leads again. It returns when ctx ends,
// once the jobs have stopped, giving the Lease up. The replicas never race:
// only the leader writes.
func lead(ctx context.Context, cl *cluster, name, identity string, log *slog.Logger, jobs []func(context.Context)) {
	e := &election{leases: cl.client.Leases(cl.namespace), name: name, namespace: cl.namespace, identity: identity}
	defer e.release()
	for e.acquire(ctx) {
		log.Info("leading: the ConfigMap controller and the audit of the Pods run", "identity", identity)
		leading, stop := context.WithCancel(ctx)
		var running sync.WaitGroup
		for _, job := range jobs {
			running.Go(func() { job(leading) })
		}
		e.keep(ctx)
		stop()
		running.Wait()
		log.Info("not leading", "identity", identity)
	}
}

// election is client-go's leader election on a Lease (the same fields, so
// replicas of another version elect with this one), on kube.Client.
type election struct {
	leases                    kube.Resource[*coordinationv1.Lease, *coordinationv1.LeaseList]
	name, namespace, identity string
	// lease is the Lease as last read or written, and observed when its
	// spec was last seen to change: another holder's Lease is valid for
	// its duration from then, by this replica's clock (clocks may differ).
	lease    *coordinationv1.Lease
	observed time.Time
}

// acquire tries every retryPeriod, with jitter, until this replica holds
// the Lease; false when ctx ended first.
func (e *election) acquire(ctx context.Context) bool {
	for !e.try(ctx) {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait.Jitter(retryPeriod, 1.2)):
		}
	}
	return ctx.Err() == nil
}

// keep renews the Lease every retryPeriod until ctx ends, or until renewing
// has failed for renewDeadline (another replica may have it by then).
func (e *election) keep(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryPeriod):
		}
		deadline, cancel := context.WithTimeout(ctx, renewDeadline)
		err := wait.PollUntilContextCancel(deadline, retryPeriod, true, func(ctx context.Context) (bool, error) { return e.try(ctx), nil })
		cancel()
		if err != nil {
			return
		}
	}
}

// try takes or renews the Lease once: true when this replica holds it.
func (e *election) try(ctx context.Context) bool {
	now := metav1.NowMicro()
	lease, err := e.leases.Get(ctx, e.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: e.name, Namespace: e.namespace}, Spec: e.spec(now)}
		if lease, err = e.leases.Create(ctx, lease, metav1.CreateOptions{}); err != nil {
			return false
		}
		e.lease, e.observed = lease, now.Time
		return true
	}
	if err != nil {
		return false
	}
	if e.lease == nil || !reflect.DeepEqual(lease.Spec, e.lease.Spec) {
		e.lease, e.observed = lease, now.Time
	}
	holder, duration := ptr.Deref(lease.Spec.HolderIdentity, ""), time.Duration(ptr.Deref(lease.Spec.LeaseDurationSeconds, 0))*time.Second
	if holder != "" && holder != e.identity && now.Time.Before(e.observed.Add(duration)) {
		return false
	}
	held := lease.DeepCopy()
	held.Spec = e.spec(now)
	if holder == e.identity {
		held.Spec.AcquireTime, held.Spec.LeaseTransitions = lease.Spec.AcquireTime, lease.Spec.LeaseTransitions
	} else {
		*held.Spec.LeaseTransitions = ptr.Deref(lease.Spec.LeaseTransitions, 0) + 1
	}
	if held, err = e.leases.Update(ctx, held, metav1.UpdateOptions{}); err != nil {
		return false
	}
	e.lease, e.observed = held, now.Time
	return true
}

// spec is the Lease acquired by this replica now, no change of holder
// counted.
func (e *election) spec(now metav1.MicroTime) coordinationv1.LeaseSpec {
	duration, transitions := int32(leaseDuration/time.Second), int32(0)
	return coordinationv1.LeaseSpec{HolderIdentity: &e.identity, LeaseDurationSeconds: &duration, AcquireTime: &now, RenewTime: &now, LeaseTransitions: &transitions}
}

// release gives up the Lease this replica holds, so that the next leader
// need not wait for it to run out.
func (e *election) release() {
	if e.lease == nil || ptr.Deref(e.lease.Spec.HolderIdentity, "") != e.identity {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), renewDeadline)
	defer cancel()
	now, none, second := metav1.NowMicro(), "", int32(1)
	released := e.lease.DeepCopy()
	released.Spec = coordinationv1.LeaseSpec{HolderIdentity: &none, LeaseDurationSeconds: &second, AcquireTime: &now, RenewTime: &now, LeaseTransitions: e.lease.Spec.LeaseTransitions}
	_, _ = e.leases.Update(ctx, released, metav1.UpdateOptions{})
}
