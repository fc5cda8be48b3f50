package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ReadChanges decodes changes as cab log --format json writes them (one
// document whose "changes" holds them), or as one JSON array of Change, or
// one Change object after another (JSON lines).
// Unknown fields are errors, so that another document (cab metrics' own
// JSON, say) is not taken for an empty history.
func ReadChanges(r io.Reader) ([]Change, error) {
	br := bufio.NewReader(r)
	first, err := metricsFirstByte(br)
	if errors.Is(err, io.EOF) {
		return []Change{}, nil
	}
	if err != nil {
		return nil, err
	}
	if first == '{' {
		// cab log --format json writes one document {"changes": [...], ...};
		// one change object per line is read below.
		data, err := io.ReadAll(br)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Changes *[]Change `json:"changes"`
		}
		if json.Unmarshal(data, &doc) == nil && doc.Changes != nil {
			if *doc.Changes == nil {
				return []Change{}, nil
			}
			return *doc.Changes, nil
		}
		br = bufio.NewReader(bytes.NewReader(data))
	}
	dec := json.NewDecoder(br)
	dec.DisallowUnknownFields()
	if first == '[' {
		var changes []Change
		if err := dec.Decode(&changes); err != nil {
			return nil, fmt.Errorf("want the JSON of cab log --format json: %w", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, errors.New("want one JSON array of changes: something follows it")
		}
		if changes == nil {
			changes = []Change{}
		}
		return changes, nil
	}
	changes := []Change{}
	for n := 1; ; n++ {
		var c *Change
		err := dec.Decode(&c)
		if errors.Is(err, io.EOF) {
			return changes, nil
		}
		if err == nil && c == nil {
			err = errors.New("null is not a change")
		}
		if err != nil {
			return nil, fmt.Errorf("change %d: want the JSON of cab log --format json: %w", n, err)
		}
		changes = append(changes, *c)
	}
}

// metricsFirstByte skips white space and returns the next byte without
// consuming it.
func metricsFirstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
		default:
			return b[0], nil
		}
	}
}
