package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/tether-rt/tether/socketio"
	"github.com/tether-rt/tether/socketio/admin"
)

// adminUIRel is where "npm ci" in web/ puts the Admin UI's built files, relative to the
// socket.io-client bundle's folder (both are in web/node_modules).
const adminUIRel = "../../@socket.io/admin-ui/ui/dist"

// adminPrefix is where the Admin UI is served; the admin namespace is /admin too.
const adminPrefix = "/admin/"

// The environment variables that give the admin login when the flags do not.
const (
	adminUserEnv     = "TETHER_ADMIN_USER"
	adminPasswordEnv = "TETHER_ADMIN_PASSWORD"
)

const adminUsage = "With --admin the demo is instrumented for the Socket.IO Admin UI: its files (installed by\n" +
	"\"npm ci\" in web/) are served at /admin/, and the admin namespace /admin reports the\n" +
	"demo's sockets, rooms and events. The login is --admin-user and --admin-password, or\n" +
	adminUserEnv + " and " + adminPasswordEnv + "; without one, only a loopback --addr may\n" +
	"run the admin namespace, unauthenticated. In the UI, the server URL is this server's."

// adminFlags are serve's Admin UI flags.
type adminFlags struct {
	on       *bool
	user     *string
	password *string
	dir      *string
}

func addAdminFlags(fs *flag.FlagSet) adminFlags {
	return adminFlags{
		on:       fs.Bool("admin", false, "serve the Socket.IO Admin UI at /admin/ and instrument the demo for it"),
		user:     fs.String("admin-user", "", "the Admin UI's login `name` (default $"+adminUserEnv+")"),
		password: fs.String("admin-password", "", "the Admin UI's `password` (default $"+adminPasswordEnv+")"),
		dir: fs.String("admin-dir", "", "`directory` holding the Admin UI's index.html; default\n"+
			"@socket.io/admin-ui/ui/dist beside the socket.io-client bundle's node_modules"),
	}
}

// adminConfig is what the demo needs to serve the Admin UI; nil when --admin is off.
type adminConfig struct {
	opts admin.Options
	dir  string
}

var errAdminLogin = errors.New("--admin needs a login (--admin-user and --admin-password, or " +
	adminUserEnv + " and " + adminPasswordEnv + ") unless --addr is a loopback address")

// config checks the flags and hashes the password; nil without --admin.
func (f adminFlags) config(addr, clientDir string, stderr io.Writer) (*adminConfig, error) {
	if !*f.on {
		if *f.user != "" || *f.password != "" || *f.dir != "" {
			return nil, errors.New("--admin-user, --admin-password and --admin-dir need --admin")
		}
		return nil, nil
	}
	user, password := *f.user, *f.password
	if user == "" {
		user = os.Getenv(adminUserEnv)
	}
	if password == "" {
		password = os.Getenv(adminPasswordEnv)
	}
	cfg := &adminConfig{dir: *f.dir}
	if cfg.dir == "" {
		cfg.dir = filepath.Clean(filepath.Join(clientDir, adminUIRel))
	}
	switch {
	case user != "" && password != "":
		h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return nil, fmt.Errorf("hashing the admin password: %w", err)
		}
		cfg.opts.Auth = &admin.BasicAuth{Username: user, PasswordHash: string(h)}
	case user != "" || password != "":
		return nil, errors.New("--admin needs both a user and a password")
	case isLoopbackAddr(addr):
		cfg.opts.NoAuth = true
		fmt.Fprintln(stderr, "tether serve: the admin namespace has no login: anyone who reaches "+addr+" may use it")
	default:
		return nil, errAdminLogin
	}
	if !fileExists(filepath.Join(cfg.dir, "index.html")) {
		// Still serve: the namespace works with a UI served elsewhere.
		fmt.Fprintf(stderr, "tether serve: no Admin UI at %s: %s\n", cfg.dir, installHint)
	}
	return cfg, nil
}

// instrument attaches the admin namespace to the demo's server.
func (cfg *adminConfig) instrument(srv *socketio.Server) (*admin.Admin, http.Handler, error) {
	a, err := admin.Instrument(srv, &cfg.opts)
	if err != nil {
		return nil, nil, err
	}
	files := http.StripPrefix(adminPrefix, http.FileServer(http.Dir(cfg.dir)))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == strings.TrimSuffix(adminPrefix, "/") {
			http.Redirect(w, r, adminPrefix, http.StatusMovedPermanently)
			return
		}
		files.ServeHTTP(w, r)
	})
	return a, h, nil
}
