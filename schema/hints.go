package schema

import (
	"strings"
)

// fieldHints say how to write a field right, by the last element of its path.
var fieldHints = map[string]string{
	"apiVersion":   `write apiVersion: "cab.dev/v1"`,
	"id":           `ids look like "CHG-2026-0042" and equal the file name`,
	"dependsOn":    `list ticket ids, e.g. ["CHG-2026-0041"]`,
	"supersedes":   `a ticket id, e.g. "CHG-2026-0041"`,
	"cancels":      `a ticket id, e.g. "CHG-2026-0041"`,
	"kind":         `one of "standard", "normal", "emergency"`,
	"risk":         `one of "low", "medium", "high", "critical"`,
	"service":      "lowercase letters, digits and dashes, starting with a letter, e.g. \"payments\"",
	"environments": `an ordered, non-empty promotion list of environment names, e.g. ["staging", "prod"]`,
	"start":        `use RFC 3339 times with an offset, e.g. "2026-12-01T22:00:00Z"`,
	"end":          `use RFC 3339 times with an offset, e.g. "2026-12-01T23:00:00Z", later than window.start`,
	"incident":     `emergency changes need incident: {id: "INC-1234", url: "https://..."}`,
	"image":        `reference the image by digest: "registry.example.com/team/app@sha256:<64 hex digits>"`,
	"digest":       `"sha256:" followed by 64 lowercase hex digits`,
	"tag":          "letters, digits, '.', '_' and '-', at most 128 characters",
	"file":         "a relative path inside the environment repository, without '..'",
	"url":          `an absolute http(s) URL, e.g. "https://payments.example.com/healthz"`,
	"template":     "the name of a template under templates: in cab.cue",
	"actions":      "at least one action, each with type \"oci\", \"git\" or \"http\" and a target",
	"type":         "check the allowed types with `cab schema`",
	"title":        "3 to 120 characters, not starting with a space",
	"owner":        `the accountable team or person, e.g. "team-payments"`,
	"pr":           `an absolute http(s) URL, e.g. "https://github.com/acme/changes/pull/42"`,
	"runbook":      `an absolute http(s) URL, e.g. "https://runbooks.example.com/payments"`,
	"dashboard":    `an absolute http(s) URL`,
	"docs":         `an absolute http(s) URL`,
	"server":       `an absolute http(s) URL of a Prometheus server`,
	"expectStatus": "an HTTP status code between 100 and 599",
	"threshold":    "a number",
	"path":         `a path such as ".spec.template.spec.containers[0].image"`,
	"repository":   `a repository path in the target registry, e.g. "team/app"`,
	"name":         "a non-empty name",
	"method":       `one of "POST", "PUT", "PATCH"`,
	"maxLatency":   `a duration such as "500ms" or "2s"`,
	"timeout":      `a duration such as "5s"`,
	"for":          `a duration such as "5m"`,
	"op":           `one of "<", "<=", ">", ">=", "==", "!="`,
}

// configHints say how to write a field of cab.cue right.
var configHints = map[string]string{
	"apiVersion":   `write apiVersion: "cab.dev/v1"`,
	"environments": `a struct of environments, e.g. environments: prod: {protected: true, targets: {...}}`,
	"targets":      `a struct of named targets, e.g. images: {type: "oci", registry: "registry.example.com/apps"}`,
	"members":      `stable forge ids such as "github:583231" or "gitlab:42", never display names`,
	"approvers":    "the name of a group under approvers:",
	"timezone":     `an IANA time zone name such as "Europe/Berlin"`,
	"start":        `local wall-clock time such as "2026-12-20T00:00"`,
	"end":          `local wall-clock time such as "2027-01-04T00:00"`,
	"registry":     `host[/prefix], e.g. "registry.example.com/apps"`,
	"publicKey":    "a PEM-encoded public key (-----BEGIN PUBLIC KEY-----)",
	"maxRisk":      `one of "low", "medium", "high", "critical"`,
}

// hintFor suggests a fix for a schema error at path with message msg, in a
// ticket or, when code is "config", in cab.cue; "" when it knows none.
func hintFor(code, path, msg string) string {
	last := path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		last = path[i+1:]
	}
	hints := fieldHints
	if code == "config" {
		hints = configHints
	}
	switch {
	case msg == fieldNotAllowed:
		return "remove the field or fix its spelling; `cab schema` prints every allowed field"
	case strings.Contains(msg, "field is required but not present"),
		strings.Contains(msg, "required field missing"):
		if h, ok := hints[last]; ok {
			return "add " + last + ": " + h
		}
		return "add the field " + last + "; `cab schema` shows its type"
	case strings.HasPrefix(msg, "items must be unique"):
		return "remove the duplicates"
	case strings.Contains(msg, "incomplete value"):
		return "write one concrete value"
	}
	return hints[last]
}
