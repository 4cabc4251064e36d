//go:build race

package testcluster_test

// raceEnabled: the race detector slows the in-process nodes several
// times over, so the scale tests shrink (or skip) under it.
const raceEnabled = true
