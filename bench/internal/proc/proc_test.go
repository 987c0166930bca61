package proc

import (
	"os"
	"testing"
)

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	if _, err := CPUTime(pid); err != nil {
		t.Error(err)
	}
	if rss, err := RSS(pid); err != nil || rss <= 0 {
		t.Errorf("RSS = %d, %v", rss, err)
	}
	if n, err := OpenFiles(pid); err != nil || n < 3 {
		t.Errorf("OpenFiles = %d, %v", n, err)
	}
}
