package main

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// modulePath is the main module's path, which a go.mod must declare for its folder to count as
// a Tether clone.
const modulePath = "github.com/tether-rt/tether"

// bundleSearch is where the default --client-dir is looked for. An installed binary is often
// started far from the clone it was built from, so the working directory alone is not enough.
type bundleSearch struct {
	wd     string // the working directory
	source string // this file's path when the binary was compiled; relative under -trimpath
	exe    string // the running executable
}

// currentBundleSearch returns the search of the running process.
func currentBundleSearch() bundleSearch {
	var s bundleSearch
	s.wd, _ = os.Getwd()
	_, s.source, _, _ = runtime.Caller(0)
	if exe, err := os.Executable(); err == nil {
		s.exe, _ = filepath.EvalSymlinks(exe)
	}
	return s
}

// candidates returns, in order and without repeats, the folders where the bundle may be: the
// default folder under the working directory, then under the Tether clone that holds the
// working directory, the clone the binary was compiled from, and the clone that holds the
// executable (go build in a clone puts it there).
func (s bundleSearch) candidates() []string {
	var dirs []string
	add := func(root string) {
		if root == "" {
			return
		}
		d := filepath.Join(root, defaultClientDir)
		for _, seen := range dirs {
			if seen == d {
				return
			}
		}
		dirs = append(dirs, d)
	}
	if s.wd != "" {
		add(s.wd)
		add(moduleRootAbove(s.wd))
	}
	if filepath.IsAbs(s.source) {
		// source is <root>/cmd/tether/clientdir.go.
		root := filepath.Dir(filepath.Dir(filepath.Dir(s.source)))
		if isTetherRoot(root) {
			add(root)
		}
	}
	if s.exe != "" {
		add(moduleRootAbove(filepath.Dir(s.exe)))
	}
	return dirs
}

// find returns the first candidate holding the bundle, and every candidate it looked in.
func (s bundleSearch) find() (found string, searched []string) {
	searched = s.candidates()
	for _, d := range searched {
		if fileExists(filepath.Join(d, clientBundle)) {
			return d, searched
		}
	}
	return "", searched
}

// moduleRootAbove returns the nearest folder at or above dir whose go.mod declares Tether's
// module, or "".
func moduleRootAbove(dir string) string {
	for {
		if isTetherRoot(dir) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// isTetherRoot reports whether dir/go.mod declares Tether's module.
func isTetherRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if path, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(path), `"`) == modulePath
		}
	}
	return false
}
