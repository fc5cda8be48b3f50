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
	"maxLatency":   `a duration such as "500ms" or "2s"`,
	"timeout":      `a duration such as "5s"`,
	"for":          `a duration such as "5m"`,
	"op":           `one of "<", "<=", ">", ">=", "==", "!="`,
}

// hintFor suggests a fix for a schema error at path with message msg.
func hintFor(path, msg string) string {
	last := path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		last = path[i+1:]
	}
	switch {
	case msg == fieldNotAllowed:
		return "remove the field or fix its spelling; `cab schema` prints every allowed field"
	case strings.Contains(msg, "field is required but not present"),
		strings.Contains(msg, "required field missing"):
		if h, ok := fieldHints[last]; ok {
			return "add " + last + ": " + h
		}
		return "add the field " + last + "; `cab schema` shows its type"
	case strings.Contains(msg, "incomplete value"):
		return "write one concrete value"
	}
	if h, ok := fieldHints[last]; ok {
		return h
	}
	return "`cab schema` shows what this field accepts"
}
