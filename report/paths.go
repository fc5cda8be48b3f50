package report

import (
	"os"
	"path/filepath"
	"strings"
)

// RepoRelative returns c with every path (ticket files, diagnostic files
// and policy rule positions) rewritten from a path relative to dir, or an
// absolute one, to a '/'-separated path relative to the root of the git
// work tree that holds the file: the form GitHub code scanning (SARIF's
// %SRCROOT%) and GitLab (Code Quality, JUnit) resolve against the
// repository, whatever directory cab ran in and however the paths were
// named on its command line. A file in no git work tree keeps its path.
//
// It is the only part of this package that reads the file system: it looks
// for a .git entry (a directory, or the file of a linked work tree or
// submodule) in each file's directory and its parents. The writers stay
// pure functions of the Check they are given.
func RepoRelative(c Check, dir string) Check {
	roots := map[string]string{} // directory → work tree root ("" for none)
	rel := func(p string) string {
		if p == "" {
			return p
		}
		native := filepath.FromSlash(p)
		abs := native
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(dir, native)
		}
		abs, err := filepath.Abs(abs)
		if err != nil {
			return p
		}
		root := workTree(filepath.Dir(abs), roots)
		if root == "" {
			return p
		}
		r, err := filepath.Rel(root, abs)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return p
		}
		return filepath.ToSlash(r)
	}
	out := Check{Tool: c.Tool, Version: c.Version}
	for _, t := range c.Tickets {
		t.File = rel(t.File)
		out.Tickets = append(out.Tickets, t)
	}
	for _, d := range c.Diagnostics {
		d.File = rel(d.File)
		if d.Rule != "" {
			file, _, _ := position(d.Rule)
			d.Rule = rel(file) + d.Rule[len(file):]
		}
		out.Diagnostics = append(out.Diagnostics, d)
	}
	return out
}

// workTree returns the root of the git work tree holding dir, "" when
// there is none; cache remembers the answer for every directory visited.
func workTree(dir string, cache map[string]string) string {
	var visited []string
	root := ""
	for d := dir; ; {
		if r, ok := cache[d]; ok {
			root = r
			break
		}
		visited = append(visited, d)
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			root = d
			break
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	for _, v := range visited {
		cache[v] = root
	}
	return root
}
