package textpatch

import (
	"bytes"
	"sort"
	"unicode/utf8"
)

// text indexes a document's lines: where each starts, how it is indented,
// and whether it holds anything but blanks and a comment. Lines and columns
// are 1-based, as the parser reports them; columns count characters.
type text struct {
	src []byte
	// starts[l-1] is the offset of line l; one more entry holds len(src).
	starts []int
	nl     string
	// endLine caches docEnd.
	endLine int
}

func newText(src []byte) *text {
	t := &text{src: src, starts: make([]int, 0, bytes.Count(src, []byte{'\n'})+2), nl: "\n"}
	t.starts = append(t.starts, 0)
	for i, c := range src {
		if c == '\n' && i+1 < len(src) {
			t.starts = append(t.starts, i+1)
		}
	}
	t.starts = append(t.starts, len(src))
	if i := bytes.IndexByte(src, '\n'); i > 0 && src[i-1] == '\r' {
		t.nl = "\r\n"
	}
	return t
}

// lines is the number of lines.
func (t *text) lines() int { return len(t.starts) - 1 }

// docEnd is the line of the "..." that ends the document, or lines()+1:
// what follows it (comments) is not the document's.
func (t *text) docEnd() int {
	if t.endLine == 0 {
		t.endLine = t.lines() + 1
		for l := 1; l <= t.lines(); l++ {
			if s := t.line(l); bytes.HasPrefix(s, []byte("...")) && (len(s) == 3 || s[3] == ' ' || s[3] == '\t' || s[3] == '\r' || s[3] == '\n') {
				t.endLine = l
				break
			}
		}
	}
	return t.endLine
}

// start is the offset of line l; lines()+1 gives the end of the text.
func (t *text) start(l int) int {
	if l < 1 {
		return 0
	}
	if l > t.lines() {
		return len(t.src)
	}
	return t.starts[l-1]
}

// lineOf is the line that holds offset off.
func (t *text) lineOf(off int) int {
	return sort.Search(t.lines(), func(i int) bool { return t.starts[i+1] > off }) + 1
}

// end is the offset just after line l's newline (or the end of the text).
func (t *text) end(l int) int { return t.start(l + 1) }

func (t *text) line(l int) []byte {
	if l < 1 || l > t.lines() {
		return nil
	}
	return t.src[t.start(l):t.end(l)]
}

// offset converts a line and character column into a byte offset.
func (t *text) offset(l, col int) int {
	off := t.start(l)
	for c := 1; c < col && off < len(t.src) && t.src[off] != '\n'; c++ {
		if t.src[off] < utf8.RuneSelf {
			off++
			continue
		}
		_, size := utf8.DecodeRune(t.src[off:])
		off += size
	}
	return off
}

// indent is the number of leading spaces of line l, -1 for a line that
// holds nothing but blanks.
func (t *text) indent(l int) int {
	s := t.line(l)
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	for j := i; j < len(s); j++ {
		if s[j] != ' ' && s[j] != '\t' && s[j] != '\r' && s[j] != '\n' {
			return i
		}
	}
	return -1
}

// width is the number of bytes of line l before its line break.
func (t *text) width(l int) int {
	return len(bytes.TrimRight(t.line(l), "\r\n"))
}

// isComment: a line that holds only a comment.
func (t *text) isComment(l int) bool {
	i := t.indent(l)
	return i >= 0 && bytes.HasPrefix(bytes.TrimLeft(t.line(l), " \t"), []byte("#"))
}

// noise: a line with no content (blank or comment only).
func (t *text) noise(l int) bool { return t.indent(l) < 0 || t.isComment(l) }
