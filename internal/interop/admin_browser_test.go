package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/internal/testenv"
)

// adminUIFromBundle is the Admin UI's folder relative to the socket.io-client bundle's, both
// installed by npm ci in web/.
const adminUIFromBundle = "../../@socket.io/admin-ui/ui/dist"

// adminBrowserPeer drives the Admin UI served by tether serve --admin in Debian's Chromium.
var adminBrowserPeer = peer{name: "chromium", client: []string{"node", "node/admin-browser.mjs"}}

// artifactsEnv names a folder where tests keep what a person may want to look at afterwards
// (screenshots); without it they go to the test's temporary folder, removed at its end.
const artifactsEnv = "TETHER_ARTIFACTS"

// artifactPath returns where to write the artifact name: in $TETHER_ARTIFACTS when set, else
// in a temporary folder of t.
func artifactPath(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv(artifactsEnv)
	if dir == "" {
		return filepath.Join(t.TempDir(), name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestAdminUIBrowser opens the official Admin UI that tether serve --admin serves at /admin/
// in headless Chromium, as an operator: a wrong password is refused, the right one logs in,
// the demo page's sockets appear on the Sockets view, a chat message is listed as an event,
// the UI's form joins a socket to a room, the disconnect button of a socket disconnects its
// page for real, and a closed page's socket leaves the list (node/admin-browser.mjs). Screenshots
// of the Sockets and Events views are kept (see artifactPath).
func TestAdminUIBrowser(t *testing.T) {
	requireBrowser(t)
	bundle := webBundle(t)
	if _, err := os.Stat(filepath.Join(bundle, adminUIFromBundle, "index.html")); err != nil {
		testenv.Missing(t, "the Admin UI in web/ is not installed (%v): run make deps", err)
	}
	srv := startTetherServeAdmin(t, bundle)
	shot := artifactPath(t, "admin-ui-sockets.png")
	eventsShot := artifactPath(t, "admin-ui-events.png")
	ctx := testContext(t, 90*time.Second)
	out, err := runClient(ctx, adminBrowserPeer, srv.url, "dashboard",
		"--chromium="+chromiumPath, "--tmpdir="+t.TempDir(), "--screenshot="+shot, "--events-screenshot="+eventsShot,
		"--user="+adminUser, "--password="+adminPassword)
	var result string
	for line := range strings.Lines(out) {
		if j, ok := strings.CutPrefix(line, "RESULT "); ok {
			result = strings.TrimSpace(j)
		}
	}
	if err != nil || result == "" || !strings.Contains(out, "OK dashboard\n") {
		t.Fatalf("admin-browser.mjs failed (exit: %v), output:\n%s", err, out)
	}
	var res struct{ A, B, BLog string }
	if err := json.Unmarshal([]byte(result), &res); err != nil || res.A == "" || res.B == "" {
		t.Fatalf("result %s (%v)", result, err)
	}
	if !strings.Contains(res.BLog, "io server disconnect") {
		t.Errorf("page B's log %q, want its disconnection by the server", res.BLog)
	}
	checkScreenshot(t, shot)
	checkScreenshot(t, eventsShot)
}
