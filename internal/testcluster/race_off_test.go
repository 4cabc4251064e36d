//go:build !race

package testcluster_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
