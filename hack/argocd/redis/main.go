// Command redis serves miniredis on a loopback port and prints its address:
// the cache argocd-repo-server needs, with no Redis installed. It runs until
// killed, or until its stdin closes (so it stops with the test that
// started it).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/alicebob/miniredis/v2"
)

func main() {
	s := miniredis.NewMiniRedis()
	if err := s.StartAddr("127.0.0.1:0"); err != nil {
		fmt.Fprintln(os.Stderr, "redis:", err)
		os.Exit(1)
	}
	fmt.Println(s.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	s.Close()
}
