package admin_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tether-rt/tether/socketio"
	"github.com/tether-rt/tether/socketio/admin"
)

// Instrument a server for the Admin UI, then connect to the admin namespace as the UI does:
// the first messages say what the UI may do. Node's equivalent is
// instrument(io, { auth: { type: "basic", username, password: hash } }).
func ExampleInstrument() {
	io := socketio.NewServer(nil)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.DefaultCost)
	if err != nil {
		log.Fatal(err)
	}
	a, err := admin.Instrument(io, &admin.Options{
		Auth: &admin.BasicAuth{Username: "admin", PasswordHash: string(hash)},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(io)
	defer srv.Close()
	defer io.Shutdown(context.Background())
	defer a.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ui, err := socketio.NewClient(srv.URL, &socketio.ClientOptions{
		Namespace: "/admin",
		Auth:      map[string]string{"username": "admin", "password": "s3cret"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer ui.Close()
	config := make(chan []string, 1)
	ui.On("config", func(c struct{ SupportedFeatures []string }) { config <- c.SupportedFeatures })
	if err := ui.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-config)
	// Output:
	// [EMIT JOIN LEAVE DISCONNECT MJOIN MLEAVE MDISCONNECT AGGREGATED_EVENTS ALL_EVENTS]
}
