// Command intoto checks that a DSSE envelope of cab's ledger holds a valid
// in-toto Statement v1, with the in-toto project's own Go validator
// (github.com/in-toto/attestation/go/v1: Statement.Validate, strict
// protojson decoding that refuses unknown fields). It is a module of its
// own so that cab's go.mod does not carry a dependency only make
// conformance uses.
//
//	go run . ENVELOPE.dsse
package main

import (
	"encoding/json"
	"fmt"
	"os"

	attestation "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "intoto:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: intoto ENVELOPE")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   []byte `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("DSSE envelope: %w", err)
	}
	if env.PayloadType != "application/vnd.in-toto+json" {
		return fmt.Errorf("DSSE payloadType %q, want application/vnd.in-toto+json", env.PayloadType)
	}
	if len(env.Signatures) == 0 || len(env.Signatures[0].Sig) == 0 {
		return fmt.Errorf("DSSE envelope without a signature")
	}
	var st attestation.Statement
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(env.Payload, &st); err != nil {
		return fmt.Errorf("in-toto statement: %w", err)
	}
	if err := st.Validate(); err != nil {
		return fmt.Errorf("in-toto statement: %w", err)
	}
	fmt.Printf("valid in-toto statement: type %s, predicateType %s, %d subject(s), first %s sha256:%s\n",
		st.GetType(), st.GetPredicateType(), len(st.GetSubject()), st.GetSubject()[0].GetName(), st.GetSubject()[0].GetDigest()["sha256"])
	return nil
}
