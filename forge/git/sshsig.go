package git

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/ssh"
)

// SSH signatures as git makes them with gpg.format=ssh: OpenSSH's sshsig
// format (PROTOCOL.sshsig) over the commit without its gpgsig header, in
// the namespace "git".
const (
	sshsigMagic     = "SSHSIG"
	sshsigPEMType   = "SSH SIGNATURE"
	sshsigNamespace = "git"
)

// errBadSSHSig is matched when an SSH signature is malformed or does not
// verify.
var errBadSSHSig = errors.New("SSH signature does not verify")

// sshsigBlob is the armored signature's content.
type sshsigBlob struct {
	Magic         [6]byte
	Version       uint32
	PublicKey     []byte
	Namespace     string
	Reserved      string
	HashAlgorithm string
	Signature     []byte
}

// sshsigSigned is what the signature is made over, after the magic.
type sshsigSigned struct {
	Namespace     string
	Reserved      string
	HashAlgorithm string
	Hash          []byte
}

// parseSSHSig decodes an armored sshsig signature: exactly one block, of
// version 1, in the git namespace.
func parseSSHSig(armored []byte) (*sshsigBlob, error) {
	block, rest := pem.Decode(armored)
	if block == nil || block.Type != sshsigPEMType {
		return nil, fmt.Errorf("%w: not an armored SSH signature", errBadSSHSig)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data after the signature", errBadSSHSig)
	}
	var sig sshsigBlob
	if err := ssh.Unmarshal(block.Bytes, &sig); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadSSHSig, err)
	}
	switch {
	case string(sig.Magic[:]) != sshsigMagic:
		return nil, fmt.Errorf("%w: bad magic", errBadSSHSig)
	case sig.Version != 1:
		return nil, fmt.Errorf("%w: version %d", errBadSSHSig, sig.Version)
	case sig.Namespace != sshsigNamespace:
		return nil, fmt.Errorf("%w: namespace %q, want %q", errBadSSHSig, sig.Namespace, sshsigNamespace)
	}
	return &sig, nil
}

// verifySSHSig checks that sig signs message with key.
func verifySSHSig(sig *sshsigBlob, message []byte, key ssh.PublicKey) error {
	if !bytes.Equal(sig.PublicKey, key.Marshal()) {
		return fmt.Errorf("%w: made by another key", errBadSSHSig)
	}
	var h hash.Hash
	switch sig.HashAlgorithm {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return fmt.Errorf("%w: hash algorithm %q", errBadSSHSig, sig.HashAlgorithm)
	}
	h.Write(message)
	signed := append([]byte(sshsigMagic), ssh.Marshal(sshsigSigned{
		Namespace: sig.Namespace, Reserved: sig.Reserved, HashAlgorithm: sig.HashAlgorithm, Hash: h.Sum(nil),
	})...)
	var s ssh.Signature
	if err := ssh.Unmarshal(sig.Signature, &s); err != nil {
		return fmt.Errorf("%w: %v", errBadSSHSig, err)
	}
	if s.Format == ssh.KeyAlgoRSA {
		// PROTOCOL.sshsig: RSA signatures must use SHA-2.
		return fmt.Errorf("%w: ssh-rsa (SHA-1) signatures are refused", errBadSSHSig)
	}
	if err := key.Verify(signed, &s); err != nil {
		return fmt.Errorf("%w: %v", errBadSSHSig, err)
	}
	return nil
}
