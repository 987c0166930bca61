package socketio

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

type fileMeta struct {
	Name    string `json:"name"`
	Data    []byte `json:"data"`
	Skipped []byte `json:"-"`
	Empty   []byte `json:"empty,omitempty"`
	inner
}

type inner struct {
	Thumb []byte `json:"thumb"`
}

func TestEncodeArgs(t *testing.T) {
	// Without binary values, encoding/json does everything.
	data, att, err := encodeArgs([]any{"hello", 1, map[string]int{"a": 2}})
	if err != nil || string(data) != `["hello",1,{"a":2}]` || att != nil {
		t.Fatalf("plain: %s %v %v", data, att, err)
	}
	// Binary anywhere becomes a placeholder and an attachment, in order.
	data, att, err = encodeArgs([]any{"upload", []byte{1, 2}, map[string]any{"x": []any{[]byte{3}}},
		fileMeta{Name: "f", Data: []byte{4}, Skipped: []byte{9}, inner: inner{Thumb: []byte{5}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `["upload",{"_placeholder":true,"num":0},{"x":[{"_placeholder":true,"num":1}]},` +
		`{"data":{"_placeholder":true,"num":2},"name":"f","thumb":{"_placeholder":true,"num":3}}]`
	if string(data) != want {
		t.Fatalf("got  %s\nwant %s", data, want)
	}
	if len(att) != 4 || !bytes.Equal(att[0], []byte{1, 2}) || !bytes.Equal(att[3], []byte{5}) {
		t.Fatalf("attachments %v", att)
	}
}

func TestArgsRoundTrip(t *testing.T) {
	in := []any{"upload", []byte{1, 2}, fileMeta{Name: "f", Data: []byte{4}, inner: inner{Thumb: []byte{5}}}}
	data, att, err := encodeArgs(in)
	if err != nil {
		t.Fatal(err)
	}
	args, err := argsFromData(data, att)
	if err != nil || args.Len() != 3 {
		t.Fatalf("split: %v %v", args, err)
	}
	var name string
	var b []byte
	var meta fileMeta
	if err := args.Decode(&name, &b, &meta); err != nil || name != "upload" {
		t.Fatalf("typed decode: %v", err)
	}
	if !bytes.Equal(b, []byte{1, 2}) || meta.Name != "f" || !bytes.Equal(meta.Data, []byte{4}) || !bytes.Equal(meta.Thumb, []byte{5}) {
		t.Fatalf("decoded %v %+v", b, meta)
	}
	// For a handler taking any, binary values come out as []byte, in place.
	var v any
	want := map[string]any{"name": "f", "data": []byte{4}, "thumb": []byte{5}}
	if err := args.Decode(&name, &b, &v); err != nil || !reflect.DeepEqual(v, want) {
		t.Fatalf("any: %#v %v", v, err)
	}
}

func TestEncodeArgsErrors(t *testing.T) {
	if _, _, err := encodeArgs([]any{func() {}}); err == nil {
		t.Fatal("a func encoded")
	}
	if _, _, err := encodeArgs([]any{[]any{[]byte{1}, func() {}}}); err == nil {
		t.Fatal("a func beside binary encoded")
	}
}

// FuzzDecodeArgs feeds the decoding of received arguments (what typed handlers and Decode
// use) arrays with placeholders pointing anywhere: it must not panic, and what it decodes
// into an any is valid JSON again once binary values are set aside.
func FuzzDecodeArgs(f *testing.F) {
	f.Add([]byte(`["a",{"_placeholder":true,"num":0}]`), []byte{1, 2}, 1)
	f.Add([]byte(`[{"x":[{"_placeholder":true,"num":1}]}]`), []byte{3}, 2)
	f.Add([]byte(`[{"_placeholder":true,"num":-1},{"_placeholder":true}]`), []byte{}, 1)
	f.Fuzz(func(t *testing.T, data, attachment []byte, n int) {
		att := make([][]byte, min(max(n, 0), 4))
		for i := range att {
			att[i] = attachment
		}
		args, err := argsFromData(data, att)
		if err != nil {
			return
		}
		for i := range args.Len() {
			dst := make([]any, i+1)
			for j := range dst {
				dst[j] = new(any)
			}
			var v any
			var b []byte
			dst[i] = &v
			_ = args.Decode(dst...)
			dst[i] = &b
			_ = args.Decode(dst...)
		}
		_ = args.Values()
	})
}

func TestArgsPassedOnUnchanged(t *testing.T) {
	// Lone surrogates, which encoding/json would replace, and binary in the received arguments.
	received := Args{
		raw:         []json.RawMessage{json.RawMessage(`"\ud800"`), json.RawMessage(`{"b":{"_placeholder":true,"num":0}}`)},
		attachments: [][]byte{[]byte("xyz")},
	}
	data, atts, err := encodeArgs([]any{"ev", received})
	if err != nil || string(data) != `["ev","\ud800",{"b":{"_placeholder":true,"num":0}}]` || len(atts) != 1 {
		t.Fatalf("%s %q %v", data, atts, err)
	}
	// After another binary value, the placeholders are renumbered.
	data, atts, err = encodeArgs([]any{[]byte("first"), received})
	if err != nil || string(data) != `[{"_placeholder":true,"num":0},"\ud800",{"b":{"_placeholder":true,"num":1}}]` ||
		len(atts) != 2 || string(atts[1]) != "xyz" {
		t.Fatalf("%s %q %v", data, atts, err)
	}
}

func TestShiftPlaceholders(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"_placeholder":true,"num":0}`, `{"_placeholder":true,"num":2}`},
		// Every other byte stays: spaces, key order, escapes, lone surrogates, a "num" elsewhere.
		{`[ {"num":1, "_placeholder" : true} , "\ud800", {"num":1,"x":"\u00e9"} ]`,
			`[ {"num":3, "_placeholder" : true} , "\ud800", {"num":1,"x":"\u00e9"} ]`},
		{`{"\u005fplaceholder":true,"n\u0075m":1}`, `{"\u005fplaceholder":true,"n\u0075m":3}`},
		{`{"_placeholder":true,"num":0,"num":1}`, `{"_placeholder":true,"num":0,"num":3}`}, // the last one counts
		{`{"_placeholder":false,"num":0}`, `{"_placeholder":false,"num":0}`},
		{`{"_placeholder":true,"num":"0"}`, `{"_placeholder":true,"num":"0"}`},
		{`{"_placeholder":true,"num":1e0}`, `{"_placeholder":true,"num":3}`},
		// A placeholder inside another, which decoders replace whole, visited first.
		{`{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":1}}`, `{"_placeholder":true,"num":2,"x":{"_placeholder":true,"num":3}}`},
		{`[1,2,3]`, `[1,2,3]`},
	} {
		got, err := shiftPlaceholders(json.RawMessage(tc.in), 2)
		if err != nil || string(got) != tc.want {
			t.Errorf("shift(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := shiftPlaceholders(json.RawMessage(`[1e400,{"_placeholder":true,"num":0}]`), 1); err == nil {
		t.Error("a number out of range shifted")
	}
}

// FuzzShiftPlaceholders holds the shift by scan to the shift of the decoded value: both decode
// to the same value.
func FuzzShiftPlaceholders(f *testing.F) {
	for _, s := range scannerSeeds {
		f.Add([]byte(s), 1)
	}
	f.Add([]byte(`{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":1}}`), 3)
	f.Fuzz(func(t *testing.T, data []byte, base int) {
		base = base % 1000
		var want any
		if json.Unmarshal(data, &want) != nil {
			return
		}
		got, err := shiftPlaceholders(data, base)
		if err != nil {
			return // a number beyond a float64, which decoding the whole would refuse as well
		}
		var gotValue any
		if err := json.Unmarshal(got, &gotValue); err != nil {
			t.Fatalf("%q shifted to invalid JSON %q: %v", data, got, err)
		}
		if want = shiftDecoded(want, base); !reflect.DeepEqual(gotValue, want) {
			t.Fatalf("%q shifted by %d: %q decodes to %v, want %v", data, base, got, gotValue, want)
		}
	})
}

// shiftDecoded adds base to the "num" of every placeholder in v, a decoded value, placeholders
// inside placeholders included.
func shiftDecoded(v any, base int) any {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			v[i] = shiftDecoded(e, base)
		}
	case map[string]any:
		for k, e := range v {
			v[k] = shiftDecoded(e, base)
		}
		if ph, ok := v["_placeholder"]; ok && ph == true {
			if num, ok := v["num"].(float64); ok {
				v["num"] = float64(int64(num) + int64(base))
			}
		}
	}
	return v
}

func TestEncodeWithEmptyArgs(t *testing.T) {
	data, _, err := encodeArgs([]any{"ev", Args{}, 1, Args{raw: []json.RawMessage{}}, Args{raw: []json.RawMessage{json.RawMessage(`2`)}}})
	if err != nil || string(data) != `["ev",1,2]` {
		t.Fatalf("%s %v", data, err)
	}
}

// A placeholder whose num is no index of the attachments, in data no parser checked (another
// node's), is left as it is: 1e300 used to become a negative index and panic.
func TestArgsFromDataBadPlaceholder(t *testing.T) {
	for _, num := range []string{"1e300", "-1", "0.5", "2", "NaN"} {
		a, err := argsFromData(json.RawMessage(`[{"_placeholder":true,"num":`+num+`}]`), [][]byte{{1}, {2}})
		if err != nil {
			continue // not JSON: refused, which is fine too
		}
		v := a.Values()
		if m, ok := v[0].(map[string]any); !ok || m["_placeholder"] != true {
			t.Errorf("num %s: %#v, want the placeholder left as it is", num, v[0])
		}
	}
}

// TestEncodeValueMatchesEncodingJSON checks encodeValue's shortcuts (a plain string written as
// it is, a value without binary encoded once) against encoding/json: an event's bytes must not
// depend on which path encoded them.
func TestEncodeValueMatchesEncodingJSON(t *testing.T) {
	values := []any{
		"message-back", "", "a b~!#$%^*()", "<script>", "a&b", `quote"`, `back\slash`, "tab\t",
		"\x00\x1f\x7f", "é", "\u2028", "bad\xffutf8", 42, 1.5, nil, true,
		map[string]any{"k": "<v>"}, []string{"x", "&"}, struct{ A string }{"<"}, json.RawMessage(`{ "a" : 1 }`),
	}
	for _, v := range values {
		var att [][]byte
		got, err := encodeValue(v, &att)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || att != nil {
			t.Errorf("%#v: got %s, encoding/json %s", v, got, want)
		}
	}
	// An event name with an Args, as a relay emits it.
	data, _, err := encodeArgs([]any{"a<b", Args{raw: []json.RawMessage{json.RawMessage(`"x"`)}}})
	if err != nil || string(data) != `["a\u003cb","x"]` {
		t.Fatalf("%s %v", data, err)
	}
}

// TestEncodeEventMatchesEncodeArgs checks encodeEvent, which writes a plain event name straight
// into the array when an Args follows, against encodeArgs of the name and the arguments: the
// bytes and the attachments must not depend on the path, for names that are plain and names
// that are not, with and without Args, attachments before, in and after them.
func TestEncodeEventMatchesEncodeArgs(t *testing.T) {
	withBinary := Args{
		raw:         []json.RawMessage{json.RawMessage(`"\ud800"`), json.RawMessage(`{"b":{"_placeholder":true,"num":0}}`)},
		attachments: [][]byte{[]byte("xyz")},
	}
	plain := Args{raw: []json.RawMessage{json.RawMessage(`"x"`), json.RawMessage(`[1,2]`)}}
	argLists := [][]any{
		nil,
		{plain},
		{Args{}},
		{withBinary},
		{[]byte("first"), withBinary},
		{withBinary, []byte("last"), 3},
		{1, plain, "s", withBinary, plain},
		{"only", 2.5},
	}
	for _, event := range []string{"message-back", "", "a<b", `q"`, "é", "bad\xff"} {
		for _, args := range argLists {
			got, gotAtt, err := encodeEvent(event, args)
			if err != nil {
				t.Fatalf("%q %v: %v", event, args, err)
			}
			want, wantAtt, err := encodeArgs(append([]any{event}, args...))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) || len(gotAtt) != len(wantAtt) {
				t.Errorf("%q %v: got %s (%d attachments), encodeArgs %s (%d)", event, args, got, len(gotAtt), want, len(wantAtt))
				continue
			}
			for i := range gotAtt {
				if !bytes.Equal(gotAtt[i], wantAtt[i]) {
					t.Errorf("%q %v: attachment %d is %q, want %q", event, args, i, gotAtt[i], wantAtt[i])
				}
			}
		}
	}
}
