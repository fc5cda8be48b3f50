package target_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cabhq/cab/reconcile/target"
)

func TestCheckPlainHTTP(t *testing.T) {
	tests := []struct {
		name         string
		url          string
		creds, insec bool
		wantRefused  bool
	}{
		{"https with token", "https://git.example.com/r.git", true, false, false},
		{"http with token", "http://git.example.com/r.git", true, false, true},
		{"http userinfo", "http://u:p@hooks.example.com/cab", false, false, true},
		{"http without credentials", "http://hooks.example.com/cab", false, false, false},
		{"http insecure allowed", "http://git.example.com/r.git", true, true, false},
		{"loopback v4", "http://127.0.0.1:8080/r.git", true, false, false},
		{"loopback v6", "http://[::1]:8080/r.git", true, false, false},
		{"localhost", "http://localhost/r.git", true, false, false},
		{"HTTP upper case", "HTTP://git.example.com/r.git", true, false, true},
		{"private address is not loopback", "http://10.0.0.5/r.git", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := target.CheckPlainHTTP(tt.url, tt.creds, tt.insec)
			if tt.wantRefused {
				assert.ErrorIs(t, err, target.ErrPlainHTTP)
				assert.ErrorIs(t, err, target.ErrUnsafe)
				assert.NotContains(t, err.Error(), ":p@", "the password is not repeated")
			} else {
				assert.NoError(t, err)
			}
		})
	}
}
