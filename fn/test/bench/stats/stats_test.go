package stats

import "testing"

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []int
		want int
	}{{nil, 0}, {[]int{3}, 3}, {[]int{3, 1, 2}, 2}, {[]int{4, 1, 3, 2}, 3}} {
		in := append([]int(nil), c.in...)
		if got := Median(in); got != c.want {
			t.Errorf("Median(%v) = %d, want %d", c.in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Errorf("Median reordered %v into %v", c.in, in)
			}
		}
	}
	if got := MedianOf([]string{"aaa", "b", "cc"}, func(s string) int { return len(s) }); got != 2 {
		t.Errorf("MedianOf lengths = %d, want 2", got)
	}
}
