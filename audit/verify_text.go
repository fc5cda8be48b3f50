package audit

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Readable splits a break's message for people: the sentence, then one
// "key: value" line per field of a JSON object the message ends with (the
// data of a ledger event, such as an unsigned event's reasons), instead of
// the object itself. A message without such an object is one sentence.
func (b Break) Readable() (sentence string, details []string) {
	msg := strings.TrimSpace(b.Message)
	for i := strings.IndexByte(msg, '{'); i >= 0; {
		var obj map[string]any
		if json.Unmarshal([]byte(msg[i:]), &obj) == nil {
			sentence = strings.TrimRight(strings.TrimSpace(msg[:i]), ":")
			for _, k := range slices.Sorted(maps.Keys(obj)) {
				if v := plain(obj[k]); v != "" {
					details = append(details, k+": "+v)
				}
			}
			return sentence, details
		}
		j := strings.IndexByte(msg[i+1:], '{')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return msg, nil
}

// plain renders a JSON value as text: lists joined with "; ", objects as
// "k=v" pairs.
func plain(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			parts = append(parts, plain(e))
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		parts := make([]string, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			parts = append(parts, k+"="+plain(v[k]))
		}
		return strings.Join(parts, ", ")
	default:
		return fmt.Sprint(v)
	}
}
