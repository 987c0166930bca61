package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// scannerSeeds are JSON texts, valid and not, on the edges of the grammar.
var scannerSeeds = []string{
	`[]`, ` [ ] `, `["a"]`, `["hello",1,{"a":[1,2,{"b":null}]},true,false,null,-0.5e+10,"x"]`,
	"\t[\r\n\"a\" , 1 ]\n", `[[],{},[[]],{"a":{}}]`, `["\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t"]`,
	`["\ud800"]`, "[\"\xff\xfe\"]", "[\"\x7f\"]", "[\"\x1f\"]", `["\u12"]`, `["\x"]`, `["a]`,
	`[1.]`, `[-]`, `[01]`, `[-0]`, `[1e5]`, `[1E+5]`, `[1e]`, `[.5]`, `[+1]`, `[1,]`, `[,1]`,
	`[1 2]`, `[tru]`, `[nul]`, `[truex]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `[{"a":1,"a":2}]`,
	`[1]x`, "[1]\x00", `[1]]`, `[`, `"a"`, `1`, ``, ` `, `null`, `{}`,
	`["a",{"_placeholder":true,"num":0}]`, `[{"_placeholder":true,"num":1e0}]`,
	`[{"\u005fplaceholder":true,"n\u0075m":0}]`, `[{"_placeholder":true,"num":0,"_placeholder":false,"x":{"_placeholder":true}}]`,
	`[{"a":{"_placeholder":true,"num":9},"a":1}]`, `[1e400,{"_placeholder":true,"num":0}]`,
	`[{"_placeholder":true,"num":-0}]`, `[{"_placeholder":true,"num":0.5}]`, `[{"_placeholder":true}]`,
}

// decodedArray is what encoding/json makes of data as an array of raw elements.
func decodedArray(data []byte) ([]json.RawMessage, bool) {
	var args []json.RawMessage
	if json.Unmarshal(data, &args) != nil || firstByte(data) != '[' {
		return nil, false
	}
	return args, true
}

func TestSplitArrayMatchesEncodingJSON(t *testing.T) {
	for _, s := range scannerSeeds {
		checkSplitArray(t, []byte(s))
	}
}

func checkSplitArray(t *testing.T, data []byte) {
	t.Helper()
	if got, want := validJSON(data), json.Valid(data); got != want {
		t.Fatalf("%q: validJSON %v, json.Valid %v", data, got, want)
	}
	want, wantOK := decodedArray(data)
	got, _, ok := splitArray(nil, data, 0)
	if ok != wantOK {
		t.Fatalf("%q: splitArray ok %v, encoding/json %v", data, ok, wantOK)
	}
	if !ok {
		return
	}
	if got == nil || len(got) != len(want) {
		t.Fatalf("%q: %d elements (nil %v), encoding/json %d", data, len(got), got == nil, len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%q: element %d is %q, encoding/json %q", data, i, got[i], want[i])
		}
		if cap(got[i]) != len(got[i]) {
			t.Fatalf("%q: element %d has room to grow into its neighbour", data, i)
		}
		if got[i][0] != '"' {
			continue
		}
		var s string
		wantErr := json.Unmarshal(got[i], &s)
		name, ok := jsonString(got[i])
		if ok != (wantErr == nil) || name != s {
			t.Fatalf("%q: jsonString gives %q %v, encoding/json %q %v", got[i], name, ok, s, wantErr)
		}
	}
}

func TestNestingDepth(t *testing.T) {
	nest := func(n int, open, inner, close string) []byte {
		return []byte(strings.Repeat(open, n) + inner + strings.Repeat(close, n))
	}
	for _, data := range [][]byte{
		nest(maxNestingDepth, "[", "", "]"),
		nest(maxNestingDepth+1, "[", "", "]"),
		nest(maxNestingDepth-1, `[{"a":`, "1", "}]")[1:], // objects and arrays, past 64 levels
		nest(maxNestingDepth/2, `[{"a":`, "1", "}]"),
		nest(maxNestingDepth/2+1, `[{"a":`, "1", "}]"),
		nest(100, `[{"a":`, "1", "}]"),
		nest(100, `[{"a":`, "1", "]}"), // closed by the wrong brackets
		nest(100, `[{"a":`, `{"_placeholder":true,"num":1}`, "}]"),
		nest(100, `[{"a":`, `{"_placeholder":true,"num":0}`, "}]"),
	} {
		checkSplitArray(t, data)
		checkPlaceholdersBoth(t, data)
	}
}

func TestJSONString(t *testing.T) {
	cases := []struct {
		raw  string
		want string
		ok   bool
	}{
		{`"message"`, "message", true},
		{`""`, "", true},
		{`"メッセージ"`, "メッセージ", true},
		{`"a\nb"`, "a\nb", true},
		{`"\u0063onnect"`, "connect", true},
		{`"\ud800"`, "\ufffd", true},
		{"\"\xff\"", "\ufffd", true},
		{`null`, "", false},
		{`1`, "", false},
		{`"a"b"`, "", false},
		{"\"a\x01\"", "", false},
		{`"`, "", false},
	}
	for _, tc := range cases {
		if got, ok := jsonString([]byte(tc.raw)); got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %q %v, want %q %v", tc.raw, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCheckPlaceholdersMatchesDecoding(t *testing.T) {
	for _, s := range scannerSeeds {
		checkPlaceholdersBoth(t, []byte(s))
	}
}

// checkPlaceholdersBoth compares checkPlaceholders with checkPlaceholdersDecoded, the reference,
// on a valid array, for a few attachment counts.
func checkPlaceholdersBoth(t *testing.T, data []byte) {
	t.Helper()
	if _, _, ok := splitArray(nil, data, 0); !ok {
		return
	}
	for attachments := 1; attachments <= 3; attachments++ {
		got, want := checkPlaceholders(data, attachments, 0), checkPlaceholdersDecoded(data, attachments)
		if !errors.Is(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("%q with %d attachments: %v, decoding says %v", data, attachments, got, want)
		}
		bad, err := findBadPlaceholder(data, attachments)
		if want != nil && err == nil && !bad {
			t.Fatalf("%q with %d attachments: the scan missed %v", data, attachments, want)
		}
	}
}

// FuzzSplitArray holds the scanner to encoding/json on any input: the same verdict as
// json.Valid and json.Unmarshal into []json.RawMessage, the same elements byte for byte, the
// same strings decoded.
func FuzzSplitArray(f *testing.F) {
	for _, s := range scannerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSplitArray(t, data)
	})
}

// FuzzCheckPlaceholders holds the placeholder scan to the walk of the decoded value.
func FuzzCheckPlaceholders(f *testing.F) {
	for _, s := range scannerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPlaceholdersBoth(t, data)
	})
}

// TestReceiveAllocations guards the receive path's allocations: splitting an event into a slice
// that has room costs none, decoding a packet one (the packet, with room for four elements), a
// plain event name one (the string), checking placeholders none.
func TestReceiveAllocations(t *testing.T) {
	event := []byte(`2["order",{"symbol":"ACME","qty":10,"price":101.25},"rush"]`)
	binaryEvent := []byte(`51-["upload",{"name":"a.png","file":{"_placeholder":true,"num":0}}]`)
	name := []byte(`"order"`)
	room := make([]json.RawMessage, 0, 4)
	cases := []struct {
		name string
		max  float64
		f    func()
	}{
		{"splitArray", 0, func() { room, _, _ = splitArray(room, event[1:], 0) }},
		{"validJSON", 0, func() { validJSON(event[1:]) }},
		{"decodeText event", 1, func() { decodeText(event, 10, 0) }},
		{"decodeText binary event", 1, func() { decodeText(binaryEvent, 10, 0) }},
		{"jsonString", 1, func() { jsonString(name) }},
		{"checkPlaceholders", 0, func() { checkPlaceholders(binaryEvent[3:], 1, 0) }},
	}
	for _, tc := range cases {
		if got := testing.AllocsPerRun(100, tc.f); got > tc.max {
			t.Errorf("%s: %v allocations, want at most %v", tc.name, got, tc.max)
		}
	}
}
