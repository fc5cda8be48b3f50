package gittarget

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cabhq/cab/model"
	"github.com/cabhq/cab/reconcile/target"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	digest1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	digest2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func setAction(file, path string, v any) model.Action {
	return model.Action{Type: "git", Target: "env", File: file, Set: &model.SetValue{Path: path, Value: v}}
}

func imageAction(file, name, newName, digest string) model.Action {
	return model.Action{Type: "git", Target: "env", File: file, KustomizeImage: &model.KustomizeImage{Name: name, NewName: newName, Digest: digest}}
}

// imageTagAction sets the digest and newTag of the images: entry name.
func imageTagAction(file, name, tag, digest string) model.Action {
	a := imageAction(file, name, "", digest)
	a.KustomizeImage.NewTag = tag
	return a
}

func change(url string, a model.Action) target.Change {
	return target.Change{Ticket: "CHG-2026-0042", Env: "prod", Seq: 3, Action: a, Commit: "abc123",
		Target: model.Target{Type: "git", URL: url}, TargetName: "env"}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "edit", name))
	require.NoError(t, err)
	return b
}

// golden compares got with testdata/edit/golden/name (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "edit", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test -update")
	assert.Equal(t, string(want), string(got), "output differs from %s", path)
}

// changedLines returns the lines of after that are not in before, in
// order: how much of the file an edit touched.
func changedLines(before, after []byte) []string {
	old := map[string]int{}
	for _, l := range strings.Split(string(before), "\n") {
		old[l]++
	}
	var out []string
	for _, l := range strings.Split(string(after), "\n") {
		if old[l] > 0 {
			old[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}

func TestEdit(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		action model.Action
		// before is State.Value before the edit.
		before string
		// added are the lines the edit adds or changes; every other line
		// stays as it was (nil: not checked, e.g. a re-encoded file).
		added []string
	}{
		{"yaml-image", "deployment.yaml", setAction("deployment.yaml", ".spec.template.spec.containers[0].image", "ghcr.io/acme/payments:1.4.2"),
			"ghcr.io/acme/payments:1.4.1", []string{`          image: "ghcr.io/acme/payments:1.4.2"  # bumped by cab`}},
		{"yaml-number", "deployment.yaml", setAction("deployment.yaml", ".spec.replicas", float64(5)),
			"3", []string{"  replicas: 5"}},
		{"yaml-second-container", "deployment.yaml", setAction("deployment.yaml", ".spec.template.spec.containers[1].image", "envoy:1.31"),
			"envoy:1.30", []string{"          image: envoy:1.31"}},
		{"yaml-new-key", "deployment.yaml", setAction("deployment.yaml", ".metadata.labels.team", "payments"),
			target.Absent, []string{"    team: payments"}},
		{"yaml-new-nested", "deployment.yaml", setAction("deployment.yaml", ".spec.template.metadata.annotations.rollout", "7"),
			target.Absent, []string{"      annotations:", `        rollout: "7"`}},
		{"yaml-new-in-list-item", "deployment.yaml", setAction("deployment.yaml", ".spec.template.spec.containers[0].imagePullPolicy", "Always"),
			target.Absent, []string{"          imagePullPolicy: Always"}},
		{"yaml-bool-as-string", "multi.yaml", setAction("multi.yaml", ".data.checkout", "on"),
			"off", []string{"  checkout: 'on'"}},
		{"yaml-string-looks-like-number", "multi.yaml", setAction("multi.yaml", ".data.version", "1.1"),
			"1.0", []string{`  version: "1.1"`}},
		{"yaml-null-value", "nulls.yaml", setAction("nulls.yaml", ".image", "app:2"),
			"null", []string{"image: app:2"}},
		{"yaml-into-null", "nulls.yaml", setAction("nulls.yaml", ".tag.name", "x"), target.Absent, nil},
		{"yaml-flow", "flow.yaml", setAction("flow.yaml", ".settings.image", "app:2"),
			"app:1", []string{`settings: {replicas: 2, image: "app:2"}`}},
		{"yaml-flow-new-key", "flow.yaml", setAction("flow.yaml", ".settings.paused", true), target.Absent, nil},
		{"kustomize-update", "kustomization.yaml", imageAction("kustomization.yaml", "payments", "ghcr.io/acme/payments-v2", digest2),
			"ghcr.io/acme/payments@" + digest1, []string{"  newName: ghcr.io/acme/payments-v2", "  digest: " + digest2}},
		{"kustomize-digest-only", "kustomization.yaml", imageAction("kustomization.yaml", "payments", "", digest2),
			"ghcr.io/acme/payments@" + digest1, []string{"  digest: " + digest2}},
		{"kustomize-add-digest", "kustomization.yaml", imageAction("kustomization.yaml", "envoy", "", digest2),
			":1.30", []string{"  digest: " + digest2}},
		{"kustomize-set-tag", "kustomization.yaml", imageTagAction("kustomization.yaml", "envoy", "1.31", digest2),
			":1.30", []string{`  newTag: "1.31"`, "  digest: " + digest2}},
		{"kustomize-replace-tag-keeps-name", "kustomization.yaml", imageTagAction("kustomization.yaml", "payments", "1.4.3", digest2),
			"ghcr.io/acme/payments@" + digest1, []string{"  digest: " + digest2, "  newTag: 1.4.3"}},
		{"kustomize-add-entry-tag", "kustomization.yaml", imageTagAction("kustomization.yaml", "redis", "7.2", digest2),
			target.Absent, []string{"- name: redis", `  newTag: "7.2"`, "  digest: " + digest2}},
		{"kustomize-add-entry", "kustomization.yaml", imageAction("kustomization.yaml", "redis", "docker.io/library/redis", digest2),
			target.Absent, []string{"- name: redis", "  newName: docker.io/library/redis", "  digest: " + digest2}},
		{"kustomize-add-images", "kustomization-noimages.yaml", imageAction("kustomization-noimages.yaml", "payments", "ghcr.io/acme/payments", digest2),
			target.Absent, []string{"images:", "  - name: payments", "    newName: ghcr.io/acme/payments", "    digest: " + digest2}},
		{"json-set", "values.json", setAction("values.json", ".image.tag", "1.4.2"),
			"1.4.1", []string{`    "tag": "1.4.2"`}},
		{"json-number", "values.json", setAction("values.json", ".replicas", float64(4)),
			"3", []string{`  "replicas": 4,`}},
		{"json-new-key", "values.json", setAction("values.json", ".image.pullPolicy", "Always"),
			target.Absent, []string{`    "tag": "1.4.1",`, `    "pullPolicy": "Always"`}},
		{"json-new-nested", "values.json", setAction("values.json", ".resources.limits.cpu", "500m"),
			target.Absent, []string{`  "nothing": null,`, `  "resources": {`, `    "limits": {`, `      "cpu": "500m"`, `    }`, `  }`}},
		{"json-into-empty", "values.json", setAction("values.json", ".empty.x", false),
			target.Absent, []string{`  "empty": {`, `    "x": false`, `  },`}},
		{"json-into-null", "values.json", setAction("values.json", ".nothing.x", "y"),
			target.Absent, []string{`  "nothing": {`, `    "x": "y"`, `  }`}},
		{"json-list-item", "values.json", setAction("values.json", ".features[1]", "c"),
			"b", []string{`    "c"`}},
		{"json-compact", "compact.json", setAction("compact.json", ".image.digest", digest1),
			target.Absent, []string{`{"image":{"tag":"1.4.1","digest":"` + digest1 + `"},"replicas":3}`}},
		{"yaml-crlf", "crlf.yaml", setAction("crlf.yaml", ".spec.image", "app:2"), "app:1", []string{"  image: app:2\r"}},
		{"yaml-crlf-new-key", "crlf.yaml", setAction("crlf.yaml", ".metadata.labels.team", "a"), target.Absent, []string{"    team: a\r"}},
		{"json-tabs", "tabs.json", setAction("tabs.json", ".image.digest", digest1), target.Absent, []string{"\t\t\"tag\": \"1\",", "\t\t\"digest\": \"" + digest1 + "\""}},
		{"json-tabs-empty-array", "tabs.json", setAction("tabs.json", ".list[0]", "x"), target.Absent, []string{"\t\"list\": [", "\t\t\"x\"", "\t]"}},
		{"kustomize-flow-images", "kustomization-flow.yaml", imageAction("kustomization-flow.yaml", "payments", "", digest1), target.Absent, nil},
		{"json-kustomize", "values.json", imageAction("values.json", "payments", "ghcr.io/acme/payments", digest1), target.Absent, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := readTestdata(t, tt.in)
			s, err := newSpec(change("/nowhere", tt.action))
			require.NoError(t, err)
			before, err := s.observe(in)
			require.NoError(t, err)
			assert.Equal(t, tt.before, before.value, "value before")
			assert.False(t, before.done, "done before")

			out, err := s.apply(in)
			require.NoError(t, err)
			golden(t, tt.name+filepath.Ext(tt.in), out)
			if tt.added != nil {
				assert.Equal(t, tt.added, changedLines(in, out), "lines added or changed; all others kept")
			}
			after, err := s.observe(out)
			require.NoError(t, err)
			assert.True(t, after.done, "done after: value %s, want %s", after.value, s.want())

			again, err := s.apply(out)
			require.NoError(t, err)
			assert.Equal(t, string(out), string(again), "applying twice changes nothing more")
		})
	}
}

func TestEditErrors(t *testing.T) {
	tests := []struct {
		name, in string
		action   model.Action
		want     string
	}{
		{"index out of range", "deployment.yaml", setAction("deployment.yaml", ".spec.template.spec.containers[5].image", "x"), "index 5 is out of range, the list has 2 items"},
		{"create list item", "deployment.yaml", setAction("deployment.yaml", ".spec.volumes[0].name", "x"), "cab creates mappings, not list items"},
		{"scalar in the way", "deployment.yaml", setAction("deployment.yaml", ".kind.name", "x"), ".kind holds a scalar, not a mapping"},
		{"index into mapping", "deployment.yaml", setAction("deployment.yaml", ".metadata[0]", "x"), ".metadata holds a mapping, not a list"},
		{"set a mapping", "deployment.yaml", setAction("deployment.yaml", ".spec.selector", "x"), ".spec.selector holds a mapping, not a scalar"},
		{"anchor", "anchors.yaml", setAction("anchors.yaml", ".base.image", "app:2"), "anchor (&base)"},
		{"alias", "anchors.yaml", setAction("anchors.yaml", ".alias.image", "app:2"), "alias (*base)"},
		{"json out of range", "values.json", setAction("values.json", ".features[3]", "x"), "index 3 is out of range, the array has 2 items"},
		{"json set an object", "values.json", setAction("values.json", ".image", "x"), ".image holds a mapping, not a scalar"},
		{"json scalar in the way", "values.json", setAction("values.json", ".replicas.x", "x"), ".replicas holds a scalar, not an object"},
		{"images not a list", "images-map.yaml", imageAction("images-map.yaml", "x", "", digest1), "images holds a mapping, not a list"},
		{"json images not a list", "values.json", imageAction("values.json", "x", "", digest1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := readTestdata(t, tt.in)
			s, err := newSpec(change("/nowhere", tt.action))
			require.NoError(t, err)
			out, err := s.apply(in)
			if tt.want == "" {
				require.NoError(t, err, "the control")
				return
			}
			require.Error(t, err, "got %s", out)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseErrorsName(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"yaml", "a: [1, 2\n", "parsing YAML"},
		{"json", "{\"a\": 1,}", "parsing JSON at line 1"},
		{"json duplicate", "{\"a\": 1, \"a\": 2}", `key "a" appears twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := "f.yaml"
			if strings.HasPrefix(tt.name, "json") {
				file = "f.json"
			}
			s, err := newSpec(change("/nowhere", setAction(file, ".a", "x")))
			require.NoError(t, err)
			_, err = s.observe([]byte(tt.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), file)
		})
	}
}
