package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
	"github.com/tether-rt/tether/socketio"
)

// The admin flags: a login from the flags or the environment, none only on loopback.
func TestAdminFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     [2]string // user, password
		addr    string
		wantErr bool
		noAuth  bool
		user    string
	}{
		{name: "off", args: nil, addr: "0.0.0.0:80"},
		{name: "user without admin", args: []string{"--admin-user", "a"}, addr: "127.0.0.1:80", wantErr: true},
		{name: "loopback unauthenticated", args: []string{"--admin"}, addr: "127.0.0.1:80", noAuth: true},
		{name: "localhost unauthenticated", args: []string{"--admin"}, addr: "localhost:80", noAuth: true},
		{name: "public unauthenticated", args: []string{"--admin"}, addr: ":80", wantErr: true},
		{name: "flags", args: []string{"--admin", "--admin-user", "a", "--admin-password", "p"}, addr: ":80", user: "a"},
		{name: "environment", args: []string{"--admin"}, env: [2]string{"b", "q"}, addr: ":80", user: "b"},
		{name: "half a login", args: []string{"--admin", "--admin-user", "a"}, addr: "127.0.0.1:80", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(adminUserEnv, tc.env[0])
			t.Setenv(adminPasswordEnv, tc.env[1])
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			f := addAdminFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.config(tc.addr, t.TempDir(), io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("config: %v, want error %v", err, tc.wantErr)
			}
			if err != nil || len(tc.args) == 0 {
				if cfg != nil {
					t.Fatalf("config %+v", cfg)
				}
				return
			}
			if cfg.opts.NoAuth != tc.noAuth {
				t.Fatalf("NoAuth %v", cfg.opts.NoAuth)
			}
			if tc.user != "" && (cfg.opts.Auth == nil || cfg.opts.Auth.Username != tc.user ||
				!strings.HasPrefix(cfg.opts.Auth.PasswordHash, "$2a$")) {
				t.Fatalf("auth %+v", cfg.opts.Auth)
			}
		})
	}
}

// tether serve --admin refuses a public address without a login, with exit status 2.
func TestServeAdminRefusesPublicWithoutLogin(t *testing.T) {
	t.Setenv(adminUserEnv, "")
	t.Setenv(adminPasswordEnv, "")
	var stderr bytes.Buffer
	code := runServe(context.Background(), []string{"--admin", "--addr", "0.0.0.0:0", "--client-dir", t.TempDir()}, nil, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "needs a login") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

// With --admin the demo serves the UI's files at /admin/ and the admin namespace, which takes
// the login and reports the demo's sockets.
func TestServeAdmin(t *testing.T) {
	uiDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(uiDir, "index.html"), []byte("<title>Socket.IO Admin UI</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(adminUserEnv, "")
	t.Setenv(adminPasswordEnv, "")
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f := addAdminFlags(fs)
	if err := fs.Parse([]string{"--admin", "--admin-user", "ops", "--admin-password", "pw", "--admin-dir", uiDir}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config("127.0.0.1:0", t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDemoServer(demoConfig{clientDir: fakeBundle(t), stdout: io.Discard}).withAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + testenv.Serve(t, d.serve)

	if resp, body := get(t, addr+"/admin/"); resp.StatusCode != 200 || !strings.Contains(body, "Admin UI") {
		t.Fatalf("/admin/: %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, addr+"/"); resp.StatusCode != 200 || !strings.Contains(body, "chat.js") {
		t.Fatalf("/: %d %q", resp.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(auth any) (*socketio.Client, error) {
		c, err := socketio.NewClient(addr, &socketio.ClientOptions{Path: socketIOPath, Namespace: "/admin", Auth: auth, DisableReconnection: true})
		if err != nil {
			t.Fatal(err)
		}
		return c, c.Connect(ctx)
	}
	bad, err := dial(map[string]string{"username": "ops", "password": "nope"})
	bad.Close()
	var ce *socketio.ConnectError
	if !errors.As(err, &ce) || ce.Message != "invalid credentials" {
		t.Fatalf("wrong password: %v", err)
	}
	ui, err := dial(map[string]string{"username": "ops", "password": "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer ui.Close()
	seen := make(chan string, 64)
	ui.On("socket_connected", func(s map[string]any, _ string) {
		if id, _ := s["id"].(string); s["nsp"] == "/" {
			seen <- id
		}
	})
	demo, err := socketio.NewClient(addr, &socketio.ClientOptions{Path: socketIOPath, DisableReconnection: true})
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	if err := demo.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-seen:
		if id != demo.ID() {
			t.Fatalf("socket_connected for %q, want %q", id, demo.ID())
		}
	case <-ctx.Done():
		t.Fatal("no socket_connected for the demo's socket")
	}
}
