package ratelog_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/tether-rt/tether/internal/ratelog"
)

// A server logs the invalid packets clients send: a burst of two lines, then one a second. The
// line let through after a pause says how many were held back.
func Example() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // for a stable output
			}
			return a
		},
	}))
	limiter := ratelog.New(time.Second, 2)
	ctx := context.Background()
	for client := range 5 {
		limiter.Log(ctx, logger, slog.LevelInfo, "invalid packet", "client", client)
	}
	time.Sleep(1100 * time.Millisecond)
	limiter.Log(ctx, logger, slog.LevelInfo, "invalid packet", "client", 5)
	// Output:
	// level=INFO msg="invalid packet" client=0
	// level=INFO msg="invalid packet" client=1
	// level=INFO msg="invalid packet" client=5 suppressed=3
}
