// Command stream-noop is the streaming floor: items split from the
// ResourceList as raw text, each parsed and written back on its own, with no
// injection. It uses the function's own splitter and encoder, so the gap to
// the function is the injection work itself.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/inject-mesher/inject-mesher/fn/read/manifest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	l, err := manifest.SplitResourceList(data)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	defer w.Flush()
	fmt.Fprint(w, "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	for _, it := range l.Items {
		node, err := manifest.ParseItem(it.Raw)
		if err != nil {
			return err
		}
		b, err := manifest.EncodeItem(node, max(l.ItemsIndent, 0))
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
