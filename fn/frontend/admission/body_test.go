package admission

import (
	"bytes"
	"strings"
	"testing"
)

// Whatever Content-Length says, the body read is the body sent: the length
// only sizes the first buffer, and a client claiming a large body reserves
// no more than 64 KB before sending it.
func TestReadBodyWhateverTheLengthSays(t *testing.T) {
	for _, size := range []int{0, 1, 511, 512, 7041, 2 << 20} {
		body := []byte(strings.Repeat("x", size))
		for _, said := range []int64{-1, 0, 1, int64(size) - 1, int64(size), int64(size) + 1, 1 << 30} {
			got, err := readBody(bytes.NewReader(body), said)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("%d bytes, Content-Length %d: read %d bytes, err %v", size, said, len(got), err)
			}
			if said > 64<<10 && size < 64<<10 && cap(got) > 64<<10+1 {
				t.Errorf("%d bytes, Content-Length %d: a buffer of %d bytes", size, said, cap(got))
			}
		}
	}
}
