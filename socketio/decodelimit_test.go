package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tether-rt/tether/engineio"
)

func TestCountValues(t *testing.T) {
	cases := []struct {
		raw   string
		limit int
		n     int
		ok    bool
	}{
		{`1`, -1, 1, true},
		{`"a long string, with [brackets] and {braces}: not values"`, 0, 1, false},
		{`"x"`, 1, 1, true},
		{`[]`, -1, 1, true},
		{`[1,"a",true,false,null,-1.5e3]`, -1, 7, true},
		{`{"a":1,"b":{"c":[]}}`, -1, 4, true}, // keys are not values
		{` { "a" : "b" , "c" : [ "d" ] } `, -1, 4, true},
		{`{"\":":"]"}`, -1, 2, true},
		{`[1,2,3]`, 3, 4, false},
		{`[1,2,3]`, 4, 4, true},
		{strings.Repeat("[", maxDecodedDepth) + strings.Repeat("]", maxDecodedDepth), -1, maxDecodedDepth, true},
		{strings.Repeat("[", maxDecodedDepth+1) + strings.Repeat("]", maxDecodedDepth+1), -1, maxDecodedDepth + 1, false},
		{`[1,[2,[3]]]`, -1, 6, true},
	}
	for _, tc := range cases {
		if n, ok := countValues([]byte(tc.raw), tc.limit); n != tc.n || ok != tc.ok {
			t.Errorf("countValues(%s, %d) = %d, %v; want %d, %v", tc.raw, tc.limit, n, ok, tc.n, tc.ok)
		}
	}
	// Invalid JSON ends the count without a fuss; the decoder refuses it.
	for _, raw := range []string{`["abc`, `[1,`, `{"a`, `]]]]`, ``} {
		countValues([]byte(raw), 10)
	}
}

// FuzzCountValues holds countValues to a count of encoding/json's tokens on any valid JSON:
// the values (keys left out) and the deepest nesting.
func FuzzCountValues(f *testing.F) {
	for _, s := range scannerSeeds {
		f.Add([]byte(s), 5)
	}
	f.Add([]byte(strings.Repeat("[", 70)+strings.Repeat("]", 70)), -1)
	f.Add([]byte(`{"a":{"b":["c",{"d":null}]},"a":"again"}`), 6)
	f.Add([]byte(`{"a":{},"b":[],"c":"d"}`), -1)
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		want, depth, ok := countTokens(data)
		if !ok {
			countValues(data, limit) // must not panic
			return
		}
		limit = max(limit, -1)
		n, within := countValues(data, limit)
		wantWithin := depth <= maxDecodedDepth && (limit < 0 || want <= limit)
		if within != wantWithin {
			t.Fatalf("%q within %d: countValues says %v (%d), tokens %d values %d deep", data, limit, within, n, want, depth)
		}
		if within && n != want {
			t.Fatalf("%q: countValues %d, tokens %d", data, n, want)
		}
	})
}

// countTokens counts the values of data, one valid JSON value, with encoding/json's tokens,
// and its deepest nesting. ok is false when data is not valid JSON.
func countTokens(data []byte) (n, deepest int, ok bool) {
	if !json.Valid(data) {
		return 0, 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	type level struct{ object, key bool } // key: a key comes next
	var stack []level
	for {
		tok, err := dec.Token()
		if err != nil {
			return n, deepest, err == io.EOF
		}
		// In an object, keys and values alternate; a closing delimiter toggles the object it
		// closes, which is dropped at once.
		isKey := len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].key
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = !stack[len(stack)-1].key
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			n++
			stack = append(stack, level{object: tok == json.Delim('{'), key: true})
			deepest = max(deepest, len(stack))
		case json.Delim(']'), json.Delim('}'):
			stack = stack[:len(stack)-1]
		default:
			if !isKey {
				n++
			}
		}
	}
}

func TestDecodeLimit(t *testing.T) {
	rec := &logRecorder{}
	srv := NewServer(&ServerOptions{MaxDecodedValues: 5, Logger: slog.New(rec)})
	got := make(chan string, 16)
	nsp := srv.Of("/")
	nsp.On("any", func(v any) { got <- fmt.Sprint("any ", v) })
	nsp.On("raw", func(v json.RawMessage) { got <- "raw " + string(v) })
	nsp.On("args", func(a Args) { got <- fmt.Sprint("args ", a.Len()) })
	nsp.On("two", func(a, b []int) { got <- fmt.Sprint("two ", a, b) })
	nsp.On("typed", func(v struct{ A []int }) { got <- fmt.Sprint("typed ", v.A) })
	c := fakeConnect(t, srv, 1)[0]
	defer closeFakes([]*conn{c})

	for _, tc := range []struct {
		packet string
		want   string // what the handlers said, "" for nothing
		err    string // what was logged, "" for nothing
	}{
		{`2["any",[1,2,3,4]]`, "any [1 2 3 4]", ""},
		{`2["any",[1,2,3,4,5]]`, "", `event "any": argument 0: ` + ErrDecodeLimit.Error() + ": more than 5 JSON values"},
		{`2["any","` + strings.Repeat("x", 1000) + `"]`, "any " + strings.Repeat("x", 1000), ""},
		{`2["raw",[1,2,3,4,5,6,7]]`, "raw [1,2,3,4,5,6,7]", ""},
		{`2["args",[1,2,3,4,5,6,7]]`, "args 1", ""},
		{`2["two",[1,2],[3,4]]`, "", `event "two": argument 1: ` + ErrDecodeLimit.Error() + ": more than 5 JSON values"},
		{`2["two",[1,2],[3]]`, "two [1 2] [3]", ""},
		{`2["typed",{"A":[1,2,3],"B":[]}]`, "", "more than 5 JSON values"},
		{`2["typed",{"A":[1,2,3]}]`, "typed [1 2 3]", ""},
		// More elements than the bound: the parser split only the first, the event is dropped
		// whatever its handlers take.
		{`2["args",1,2,3,4]`, "args 4", ""},
		{`2["args",1,2,3,4,5]`, "", `event "args": argument 4: ` + ErrDecodeLimit.Error() + ": more than 4 arguments"},
	} {
		c.receive(engineio.Message{Data: []byte(tc.packet)})
		drainHandlers(srv)
		var said string
		select {
		case said = <-got:
		default:
		}
		if said != tc.want {
			t.Errorf("%s: the handlers said %q, want %q", tc.packet, said, tc.want)
		}
		errs := rec.errs()
		rec.take()
		switch {
		case tc.err == "" && len(errs) > 0:
			t.Errorf("%s: logged %v", tc.packet, errs)
		case tc.err != "" && (len(errs) != 1 || !errors.Is(errs[0], ErrDecodeLimit) || !strings.Contains(errs[0].Error(), tc.err)):
			t.Errorf("%s: logged %v, want one error with %q", tc.packet, errs, tc.err)
		}
	}
}

func TestDecodeLimitDepthAndCatchAll(t *testing.T) {
	rec := &logRecorder{}
	srv := NewServer(&ServerOptions{Logger: slog.New(rec)}) // the default bound
	got := make(chan string, 16)
	srv.Of("/").On("deep", func(v any) { got <- "deep" })
	srv.Of("/").On("deep", func(a Args) { got <- "deep as Args" })
	srv.Of("/").OnAny(func(s *Socket, event string, args []any) { got <- "any " + event })
	c := fakeConnect(t, srv, 1)[0]
	defer closeFakes([]*conn{c})

	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	receive := func(packet string) (said []string) {
		c.receive(engineio.Message{Data: []byte(packet)})
		drainHandlers(srv)
		for {
			select {
			case s := <-got:
				said = append(said, s)
			default:
				return said
			}
		}
	}
	if said := receive(`2["deep",` + nest(maxDecodedDepth) + `]`); fmt.Sprint(said) != "[any deep deep deep as Args]" {
		t.Errorf("nested %d levels: %q", maxDecodedDepth, said)
	}
	if errs := rec.errs(); len(errs) != 0 {
		t.Errorf("logged %v", errs)
	}
	if said := receive(`2["deep",` + nest(maxDecodedDepth+1) + `]`); fmt.Sprint(said) != "[deep as Args]" {
		t.Errorf("nested %d levels: %q", maxDecodedDepth+1, said)
	}
	errs := rec.errs()
	if len(errs) != 2 || !errors.Is(errs[0], ErrDecodeLimit) || !errors.Is(errs[1], ErrDecodeLimit) {
		t.Fatalf("logged %v", errs)
	}
	if want := "nested more than 64 levels deep"; !strings.Contains(errs[1].Error(), want) {
		t.Errorf("logged %v, want %q", errs[1], want)
	}
	if lines := rec.take(); !strings.HasPrefix(lines[0], "socketio: event not passed to catch-all listeners") ||
		!strings.HasPrefix(lines[1], "socketio: event not handled") {
		t.Errorf("logged %q", lines)
	}
}

func TestNoDecodeLimit(t *testing.T) {
	got := make(chan string, 1)
	e := newEventServer(t, &ServerOptions{MaxDecodedValues: -1}, func(v []any, rest ...any) {
		got <- fmt.Sprint(len(v), " ", len(rest))
	})
	defer e.close()
	e.receive([]byte(`2["message",[` + strings.TrimSuffix(strings.Repeat("1,", 50_000), ",") + `],` +
		strings.TrimSuffix(strings.Repeat("2,", 20_000), ",") + `]`))
	select {
	case g := <-got:
		if g != "50000 20000" {
			t.Errorf("the handler got %s values", g)
		}
	default:
		t.Error("the handler was not called")
	}
}

func TestDecodeTextSplitsWithinTheBound(t *testing.T) {
	for _, tc := range []struct {
		packet   string
		max      int
		elements int
		tooMany  bool
	}{
		{`2["a",1,2]`, 3, 3, false},
		{`2["a",1,2,3]`, 3, 3, true},
		{`2["a",1,2,3]`, 0, 4, false},
		{`21[1,2,3]`, 2, 2, true},
		{`31[1,2]`, 2, 2, false},
		{`31[1,2,3]`, 2, 2, true},
	} {
		p, _, err := decodeText([]byte(tc.packet), 10, tc.max)
		if err != nil {
			t.Fatalf("%s: %v", tc.packet, err)
		}
		if len(p.args) != tc.elements || p.tooManyArgs != tc.tooMany {
			t.Errorf("%s within %d: %d elements, too many %v; want %d, %v", tc.packet, tc.max, len(p.args), p.tooManyArgs, tc.elements, tc.tooMany)
		}
	}
	// A bad placeholder after the bound still fails the packet: the rest is validated.
	if _, _, err := decodeText([]byte(`51-["a",1,{"_placeholder":true,"num":1}]`), 10, 2); !errors.Is(err, errBadPlaceholder) {
		t.Errorf("bad placeholder past the bound: %v", err)
	}
	if _, _, err := decodeText([]byte(`2["a",1,[}]`), 10, 2); err == nil {
		t.Error("invalid JSON past the bound accepted")
	}
}

func TestCheckPlaceholdersWithinTheBound(t *testing.T) {
	// A bad placeholder under a key given twice is dropped by decoding, as JSON.parse drops it:
	// the packet is valid when the payload is small enough to decode to make sure.
	data := []byte(`["a",{"k":{"_placeholder":true,"num":7},"k":{"_placeholder":true,"num":0}}]`)
	if err := checkPlaceholders(data, 1, 0); err != nil {
		t.Errorf("no bound: %v", err)
	}
	if n, _ := countValues(data, -1); n != 9 {
		t.Fatalf("%d values", n)
	}
	if err := checkPlaceholders(data, 1, 9); err != nil {
		t.Errorf("within the bound: %v", err)
	}
	if err := checkPlaceholders(data, 1, 8); !errors.Is(err, errBadPlaceholder) {
		t.Errorf("beyond the bound: %v", err)
	}
}

func TestAckBeyondTheBound(t *testing.T) {
	rec := &logRecorder{}
	srv := NewServer(&ServerOptions{MaxDecodedValues: 3, Logger: slog.New(rec)})
	c := fakeConnect(t, srv, 1)[0]
	defer closeFakes([]*conn{c})
	s := srv.Of("/").Sockets()[0]
	answers := make(chan error, 2)
	for range 2 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := s.EmitWithAck(ctx, "question")
			answers <- err
		}()
	}
	// The two acknowledgement ids, from the ids of the namespace.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.acks)
		s.mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.receive(engineio.Message{Data: []byte(`30[1,2,3]`)})
	c.receive(engineio.Message{Data: []byte(`31[1,2,3,4]`)})
	errs := []error{<-answers, <-answers}
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("answers %v: want one acknowledgement and one timeout", errs)
	}
	if logged := rec.errs(); len(logged) != 1 || !errors.Is(logged[0], ErrDecodeLimit) {
		t.Errorf("logged %v", logged)
	}
}

func TestClientDecodeLimit(t *testing.T) {
	ts := startClientServer(t, nil, func(io *Server) {
		io.OnConnect(func(s *Socket) {
			s.Emit("big", []int{1, 2, 3, 4, 5, 6})
			s.Emit("small", []int{1, 2})
		})
	})
	got := make(chan string, 4)
	dialTest(t, ts.url, &ClientOptions{MaxDecodedValues: 5}, func(c *Client) {
		c.On("big", func(v []int) { got <- fmt.Sprint("big ", v) })
		c.On("big", func(a Args) { got <- fmt.Sprint("big as Args ", string(a.Raw(0))) })
		c.On("small", func(v []int) { got <- fmt.Sprint("small ", v) })
	})
	for _, want := range []string{"big as Args [1,2,3,4,5,6]", "small [1 2]"} {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("got %q, want %q", g, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q", want)
		}
	}
}
