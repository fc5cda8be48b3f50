// Package race reports whether the binary was built with the race
// detector, whose shadow memory cannot live under a data-segment limit.
package race
