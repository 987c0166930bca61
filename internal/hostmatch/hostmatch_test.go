package hostmatch

import (
	"fmt"
	"testing"
)

func TestAllowed(t *testing.T) {
	loopback := []string{"localhost", "127.0.0.1", "::1"}
	cases := []struct {
		host     string
		patterns []string
		want     bool
	}{
		{"evil.example:3510", nil, true},
		{"evil.example:3510", loopback, false},
		{"localhost:3510", loopback, true},
		{"LOCALHOST", loopback, true},
		{"127.0.0.1:80", loopback, true},
		{"[::1]:3000", loopback, true},
		{"127.0.0.1.evil.example", loopback, false},
		{"app.example.com", []string{"*.example.com"}, true},
		{"example.com", []string{"*.example.com"}, false},
		{"a.b.example.com", []string{"*.example.com"}, true}, // * crosses dots, as in OriginPatterns
		{"", loopback, false},
		{"x", []string{"["}, false},
	}
	for _, c := range cases {
		if got := Allowed(c.host, c.patterns); got != c.want {
			t.Errorf("Allowed(%q, %q) = %v, want %v", c.host, c.patterns, got, c.want)
		}
	}
}

func ExampleAllowed() {
	allowed := []string{"localhost", "127.0.0.1", "::1", "*.example.com"}
	for _, host := range []string{"localhost:8080", "chat.example.com", "rebind.attacker.example:8080"} {
		fmt.Println(host, Allowed(host, allowed))
	}
	// Output:
	// localhost:8080 true
	// chat.example.com true
	// rebind.attacker.example:8080 false
}
