package batch

import (
	"bytes"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/inject-mesher/inject-mesher/fn/config"
	"github.com/inject-mesher/inject-mesher/fn/engine"
	"github.com/inject-mesher/inject-mesher/fn/engine/sidecar"
	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
	"github.com/inject-mesher/inject-mesher/fn/read/yamlnode"
)

// A mesher ConfigMap encoded once and given each namespace is, byte for
// byte, the ConfigMap encoded for that namespace: with the plain encoder,
// and with the KRM function's (an item of a list, its file name holding
// the namespace too). A namespace YAML would quote is encoded on its own.
func TestConfigMapEncodedOnce(t *testing.T) {
	inj := engine.New(config.Default(), nil)
	withPath := func(cm *yaml.Node) ([]byte, error) {
		ns, _ := yamlnode.Scalar(cm, "metadata", "namespace")
		yamlnode.Set(yamlnode.GetPath(cm, "metadata", "annotations"), "config.kubernetes.io/path", yamlnode.Str("mesher-config-sc."+ns+".yaml"))
		return manifest.EncodeItem(cm, 2)
	}
	for _, enc := range []struct {
		name   string
		encode func(*yaml.Node) ([]byte, error)
	}{{"plain", func(n *yaml.Node) ([]byte, error) { return yaml.Marshal(n) }}, {"list item with its path", withPath}} {
		t.Run(enc.name, func(t *testing.T) {
			calls := 0
			e := configMapEncoder{encode: func(n *yaml.Node) ([]byte, error) { calls++; return enc.encode(n) }}
			namespaces := []string{"shop", "a", "team-payments-eu-west-1", "123", "null", "shop"}
			for _, b := range []sidecar.Backend{sidecar.ServiceCenter, sidecar.Pilot} {
				for _, ns := range namespaces {
					need := engine.ConfigMapRef{Namespace: ns, Backend: b}
					cm, err := inj.ConfigMap(need)
					if err != nil {
						t.Fatal(err)
					}
					got, err := e.Encode(need, cm)
					if err != nil {
						t.Fatal(err)
					}
					again, _ := inj.ConfigMap(need)
					want, err := enc.encode(again)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s in %q:\n%s\nwant:\n%s", b, ns, got, want)
					}
				}
			}
			// Once a backend, and once for each quoted name ("123", "null").
			if want := 2 * 3; calls != want {
				t.Errorf("%d encodings, want %d", calls, want)
			}
		})
	}
}
