package interop

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The Admin UI's login in these tests.
const (
	adminUser     = "ops"
	adminPassword = "correct horse"
)

// adminUIPeer is node/admin-ui-client.mjs: socket.io-client acting as the Admin UI.
var adminUIPeer = peer{name: "admin-ui", client: []string{"node", "node/admin-ui-client.mjs"}}

// startTetherServeAdmin starts the built "tether serve --admin" with the test's login.
func startTetherServeAdmin(t *testing.T, clientDir string) *serverProcess {
	t.Helper()
	t.Setenv("TETHER_ADMIN_USER", adminUser)
	t.Setenv("TETHER_ADMIN_PASSWORD", adminPassword)
	argv := []string{tetherPath(t), "serve", "--admin", "--addr", "127.0.0.1:0", "--client-dir", clientDir}
	return startServerProcess(t, "tether serve --admin", argv, serveListening)
}

// TestAdminUIProtocol runs one script acting as the Admin UI against "tether serve --admin"
// and against Node's socket.io instrumented by @socket.io/admin-ui (the reference), with the
// same login (one bcrypt hash, made here, checked by bcryptjs and by Go): a wrong password
// is refused by both, and what the UI is told of a demo socket that connects, is made to join
// a room, sends an event, is sent one and is disconnected by the UI must be the same.
func TestAdminUIProtocol(t *testing.T) {
	requireNode(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(adminPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ADMIN_USER", adminUser)
	t.Setenv("ADMIN_HASH", string(hash))
	ref := startListening(t, "node admin-reference-server.mjs",
		[]string{"node", "node/admin-reference-server.mjs", "0"}, "listening on ")
	tether := startTetherServeAdmin(t, t.TempDir())

	results := map[string]map[string]any{}
	for name, url := range map[string]string{"reference": ref, "tether": tether.url} {
		ctx := testContext(t, 60*time.Second)
		out, err := runClient(ctx, adminUIPeer, url, "lifecycle", "--user="+adminUser, "--password="+adminPassword)
		var result string
		for line := range strings.Lines(out) {
			if j, ok := strings.CutPrefix(line, "RESULT "); ok {
				result = strings.TrimSpace(j)
			}
		}
		if err != nil || !strings.Contains(out, "OK lifecycle\n") {
			t.Fatalf("%s: admin-ui-client.mjs failed (%v):\n%s", name, err, out)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(result), &r); err != nil {
			t.Fatalf("%s: result %q: %v", name, result, err)
		}
		t.Logf("%s: %s", name, result)
		results[name] = r
	}
	want, got := results["reference"], results["tether"]
	for key, w := range want {
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(got[key])
		if string(wj) != string(gj) {
			t.Errorf("%s: tether %s, reference %s", key, gj, wj)
		}
	}
	if len(got) != len(want) {
		t.Errorf("tether reported %d items, the reference %d", len(got), len(want))
	}
}
