package yamlnode

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Digest is the first 16 hex digits of the SHA-256 of a node tree's
// structure and values, every value length-prefixed (unambiguous, and
// cheaper than encoding YAML). As written, key order and aliases count, as
// the mesher status hash has always read them (a different hash would
// restart every injected workload); canonical sorts mapping keys and
// resolves aliases, so that the same content written another way hashes
// the same.
func Digest(n *yaml.Node, canonical bool) string {
	// One buffer hashed once: writing each node to the hash through its
	// interface costs two allocations per node.
	sum := sha256.Sum256(appendDigest(make([]byte, 0, 4096), n, canonical))
	return hex.EncodeToString(sum[:8])
}

func appendDigest(b []byte, n *yaml.Node, canonical bool) []byte {
	if n == nil {
		return append(b, 0)
	}
	for canonical && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	b = append(b, byte(n.Kind))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(n.Value)))
	b = append(b, n.Value...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(n.Content)))
	if !canonical || n.Kind != yaml.MappingNode {
		for _, c := range n.Content {
			b = appendDigest(b, c, canonical)
		}
		return b
	}
	pairs := make([]int, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		pairs = append(pairs, i)
	}
	slices.SortStableFunc(pairs, func(i, j int) int { return strings.Compare(n.Content[i].Value, n.Content[j].Value) })
	for _, i := range pairs {
		b = appendDigest(b, n.Content[i], canonical)
		b = appendDigest(b, n.Content[i+1], canonical)
	}
	return b
}

// DigestStrings hashes a sequence of strings, each length-prefixed, the
// way Digest hashes a tree: for a hash made of other hashes and names,
// without building nodes for them.
func DigestStrings(parts ...string) string {
	size := 0
	for _, p := range parts {
		size += 8 + len(p)
	}
	b := make([]byte, 0, size)
	for _, p := range parts {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(p)))
		b = append(b, p...)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
