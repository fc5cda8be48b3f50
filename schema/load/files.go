package load

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cabhq/cab/internal/diag"
)

// ReadFile reads a regular file without following symlinks and refuses
// anything larger than max without reading it. A refusal is a diagnostic;
// an error is a failure of the system (permissions, I/O).
func ReadFile(name string, max int64) ([]byte, *diag.Diagnostic, error) {
	refuse := func(msg, hint string) ([]byte, *diag.Diagnostic, error) {
		return nil, &diag.Diagnostic{File: name, Line: 1, Column: 1, Severity: diag.Error, Code: "file", Message: msg, Hint: hint}, nil
	}
	fi, err := os.Lstat(name)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return refuse(SymlinkMessage(name), "replace the symlink with the file itself")
	}
	if !fi.Mode().IsRegular() {
		return refuse("not a regular file", "tickets and policies are plain files")
	}
	if fi.Size() > max {
		return refuse(fmt.Sprintf("file is %d bytes, more than the %d allowed", fi.Size(), max),
			"a ticket describes one change; keep large content in the repository it changes")
	}
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return refuse(SymlinkMessage(name), "replace the symlink with the file itself")
		}
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return refuse(fmt.Sprintf("file is more than the %d bytes allowed", max), "keep tickets small")
	}
	return b, nil, nil
}

// SymlinkMessage says that the symlink at name is refused and where it
// points, flagging a target outside the change repository.
func SymlinkMessage(name string) string {
	target, err := os.Readlink(name)
	if err != nil {
		return "symlinks are refused"
	}
	abs := target
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(filepath.Dir(name), target)
	}
	return fmt.Sprintf("symlinks are refused (this one points to %s)", describeTarget(name, abs))
}

// describeTarget says where a symlink leads, flagging escapes from the
// repository the link is in.
func describeTarget(link, target string) string {
	root := FindRoot(filepath.Dir(link))
	if root == "" {
		return target
	}
	absRoot, err1 := filepath.Abs(root)
	absTarget, err2 := filepath.Abs(target)
	if err1 == nil && err2 == nil {
		if rel, err := filepath.Rel(absRoot, absTarget); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return target + ", outside the repository"
		}
	}
	return target
}

// FindRoot walks up from dir to the nearest directory holding a regular
// cab.cue, the root of a change repository ("" when there is none).
func FindRoot(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		if fi, err := os.Lstat(filepath.Join(abs, ConfigFile)); err == nil && fi.Mode().IsRegular() {
			return abs
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return ""
		}
		abs = parent
	}
}
