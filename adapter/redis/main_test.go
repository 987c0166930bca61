package redis_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test ends with its servers, clients and Redis connections closed: no goroutine may
// outlive them, across Redis restarts included.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
