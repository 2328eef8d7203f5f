// Command kyaml-noop is the parse-everything floor: a KRM function that reads
// the whole ResourceList into kyaml node trees and writes it back, changing
// nothing. No function that parses everything first can be faster.
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/kustomize/kyaml/kio"
)

func main() {
	rw := &kio.ByteReadWriter{Reader: os.Stdin, Writer: os.Stdout, KeepReaderAnnotations: true}
	nodes, err := rw.Read()
	if err == nil {
		err = rw.Write(nodes)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
