package main

import (
	"fmt"
	"slices"
)

// A summary is the median and the range of repeated measurements.
type summary struct {
	median, min, max float64
	n                int
}

func summarize(values []float64) summary {
	if len(values) == 0 {
		return summary{}
	}
	v := slices.Clone(values)
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return summary{median: m, min: v[0], max: v[len(v)-1], n: len(v)}
}

// percentile returns the p-th percentile (0-100) of sorted values, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func (s summary) String() string {
	return fmt.Sprintf("%.0f (%.0f–%.0f)", s.median, s.min, s.max)
}
