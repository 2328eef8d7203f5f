package live

import (
	"context"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// webhookSuffix ends the name of each webhook of the install's
// MutatingWebhookConfiguration (namespace.inject.mesher.io,
// object.inject.mesher.io), in the kustomize install and the chart alike.
const webhookSuffix = ".inject.mesher.io"

// foundConfig is the config the webhook runs with, and where it was read.
type foundConfig struct {
	data   []byte // nil: the defaults
	origin string
}

// webhookConfig finds the webhook's install and the config it runs with,
// so that the audit judges as the webhook admits: the
// MutatingWebhookConfiguration whose webhooks are inject-mesher's names the
// Service's namespace; the newest Pod there given --config mounts it from a
// ConfigMap. Nothing found is the defaults, and the origin says why.
func (c Cluster) webhookConfig(ctx context.Context) (foundConfig, error) {
	mwcs, err := c.Client.MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return foundConfig{}, c.explain(err, "list", "mutatingwebhookconfigurations.admissionregistration.k8s.io", "")
	}
	namespace, mwc := "", ""
	for _, m := range mwcs.Items {
		for _, w := range m.Webhooks {
			if strings.HasSuffix(w.Name, webhookSuffix) && w.ClientConfig.Service != nil {
				namespace, mwc = w.ClientConfig.Service.Namespace, m.Name
			}
		}
	}
	if namespace == "" {
		return foundConfig{origin: "the default config (no inject-mesher webhook is installed in the cluster; --config judges with another)"}, nil
	}
	pods, err := c.Client.Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return foundConfig{}, c.explain(err, "list", "pods", namespace)
	}
	var newest *corev1.Pod
	var file string
	for i := range pods.Items {
		p := &pods.Items[i]
		if f, ok := configArg(p); ok && (newest == nil || newest.CreationTimestamp.Before(&p.CreationTimestamp)) {
			newest, file = p, f
		}
	}
	if newest == nil {
		return foundConfig{origin: fmt.Sprintf("the default config (no Pod of the webhook of MutatingWebhookConfiguration %s in namespace %s is given --config)", mwc, namespace)}, nil
	}
	cmName, key, ok := mountedConfigMap(newest, file)
	if !ok {
		return foundConfig{}, fmt.Errorf("the webhook's Pod %s/%s reads its config from %s, which is not a ConfigMap's key: give the audit that config with --config", namespace, newest.Name, file)
	}
	cm, err := c.Client.ConfigMaps(namespace).Get(ctx, cmName, metav1.GetOptions{})
	if err != nil {
		return foundConfig{}, c.explain(err, "get", "configmaps", namespace)
	}
	data, ok := cm.Data[key]
	if !ok {
		return foundConfig{}, fmt.Errorf("the webhook's config ConfigMap %s/%s has no key %s (its Pod %s reads %s)", namespace, cmName, key, newest.Name, file)
	}
	return foundConfig{data: []byte(data), origin: fmt.Sprintf("the webhook's config: ConfigMap %s/%s, key %s", namespace, cmName, key)}, nil
}

// configArg is the file a container of the Pod is given with --config.
func configArg(p *corev1.Pod) (string, bool) {
	for _, c := range p.Spec.Containers {
		args := append(append([]string{}, c.Command...), c.Args...)
		for i, a := range args {
			if f, ok := strings.CutPrefix(a, "--config="); ok {
				return f, true
			}
			if a == "--config" && i+1 < len(args) {
				return args[i+1], true
			}
		}
	}
	return "", false
}

// mountedConfigMap is the ConfigMap and key that file is in the Pod: a
// ConfigMap volume mounted at file's folder (or at file, by subPath).
func mountedConfigMap(p *corev1.Pod, file string) (name, key string, ok bool) {
	volumes := map[string]*corev1.ConfigMapVolumeSource{}
	for _, v := range p.Spec.Volumes {
		if v.ConfigMap != nil {
			volumes[v.Name] = v.ConfigMap
		}
	}
	for _, c := range p.Spec.Containers {
		for _, m := range c.VolumeMounts {
			cm := volumes[m.Name]
			if cm == nil {
				continue
			}
			rel := ""
			switch {
			case m.SubPath != "" && path.Clean(m.MountPath) == path.Clean(file):
				rel = m.SubPath
			case m.SubPath == "" && strings.HasPrefix(path.Clean(file), path.Clean(m.MountPath)+"/"):
				rel = strings.TrimPrefix(path.Clean(file), path.Clean(m.MountPath)+"/")
			default:
				continue
			}
			// items map keys to paths; without them each key is its own file.
			for _, it := range cm.Items {
				if path.Clean(it.Path) == rel {
					return cm.Name, it.Key, true
				}
			}
			if len(cm.Items) == 0 && !strings.Contains(rel, "/") {
				return cm.Name, rel, true
			}
		}
	}
	return "", "", false
}
