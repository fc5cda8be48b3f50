package testsize

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cabhq/cab/internal/race"
)

func TestPick(t *testing.T) {
	t.Setenv(Env, "")
	assert.Equal(t, 2, Pick(100, 2), "small by default")
	t.Setenv(Env, "1")
	want := 100
	if race.Enabled || testing.Short() {
		want = 2
	}
	assert.Equal(t, want, Pick(100, 2), "full with %s=1, unless under -race or -short", Env)
}
