// Package stats holds what the benches compute from their runs: the
// median, as they all print it.
package stats

import (
	"cmp"
	"slices"
)

// Median is the middle of the values, the upper one of an even count (a
// figure that was measured, not an average of two); the zero value of none.
// The values are not reordered.
func Median[T cmp.Ordered](values []T) T {
	if len(values) == 0 {
		var zero T
		return zero
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

// MedianOf is the Median of one figure of each run.
func MedianOf[R any, T cmp.Ordered](runs []R, figure func(R) T) T {
	values := make([]T, len(runs))
	for i, r := range runs {
		values[i] = figure(r)
	}
	return Median(values)
}
