package testsize

import (
	"os"
	"testing"

	"github.com/cabhq/cab/internal/race"
)

// Env is the environment variable that, set to 1, asks for full size.
const Env = "CAB_TEST_FULL"

// Full reports whether the long tests run at full size.
func Full() bool {
	return os.Getenv(Env) == "1" && !race.Enabled && !testing.Short()
}

// Pick returns full when the tests run at full size, small otherwise.
func Pick(full, small int) int {
	if Full() {
		return full
	}
	return small
}
