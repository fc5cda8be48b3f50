package notify

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
)

// An SLA breach is told once per pull request and level, across
// restarts (the state file), with the backup group at escalation.
func TestNotifySLAOncePerLevel(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	state := filepath.Join(t.TempDir(), "state.json")
	n := newT(t, Options{Config: webhookConfig(srv.URL), StateFile: state})
	b := Breach{PR: 42, Service: "payments", Risk: "high", Level: model.SLABreached, Backup: "sre",
		Approvers: []string{"github:2"}, BackupApprovers: []string{"github:20"}, Reason: "waited 5h0m0s, SLA 4h0m0s",
		At: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	assert.Equal(t, 1, n.NotifySLA(b))
	assert.Equal(t, 0, n.NotifySLA(b), "the same level again is a duplicate")
	require.Zero(t, n.Flush(context.Background()))

	n = newT(t, Options{Config: webhookConfig(srv.URL), StateFile: state}) // a restart
	assert.Equal(t, 0, n.NotifySLA(b), "sent before the restart")
	b.Level = model.SLAEscalated
	assert.Equal(t, 1, n.NotifySLA(b), "escalation is a new level")
	assert.Equal(t, 0, n.NotifySLA(b))
	require.Zero(t, n.Flush(context.Background()))

	// A pull request first seen already escalated is told both levels.
	assert.Equal(t, 2, n.NotifySLA(Breach{PR: 43, Level: model.SLAEscalated, Backup: "sre"}))
	assert.Equal(t, 0, n.NotifySLA(Breach{PR: 43, Level: model.SLAWithin}), "within: nothing")
	require.Zero(t, n.Flush(context.Background()))

	bodies, _ := h.got()
	var got []Event
	for _, body := range bodies {
		var ev Event
		require.NoError(t, json.Unmarshal(body, &ev))
		got = append(got, ev)
	}
	require.Len(t, got, 4)
	assert.Equal(t, []string{"sla/42/1", "sla/42/2", "sla/43/1", "sla/43/2"}, []string{got[0].ID, got[1].ID, got[2].ID, got[3].ID})
	assert.Equal(t, KindSLABreach, got[0].Kind)
	assert.Equal(t, []string{"github:2"}, got[0].Approvers, "level 1 tells the approver group")
	assert.Equal(t, []string{"github:20"}, got[1].Approvers, "level 2 tells the backup group")
	assert.Contains(t, got[1].Reason, `escalated to the backup group "sre"`)
	assert.Equal(t, int64(42), got[1].PR)
}
