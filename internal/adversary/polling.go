//go:build linux

package adversary

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// pollPath is the Socket.IO endpoint over HTTP long-polling.
const pollPath = "/socket.io/?EIO=4&transport=polling"

// Poll is an Engine.IO session over HTTP long-polling, spoken request by request.
type Poll struct {
	SID string
	hc  *http.Client
	url string // the endpoint with the sid
}

// OpenPoll performs the polling handshake on the Socket.IO endpoint of tg with hc.
func OpenPoll(ctx context.Context, tg *Target, hc *http.Client) (*Poll, error) {
	status, body, err := do(ctx, hc, http.MethodGet, tg.URL(pollPath), nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK || len(body) == 0 || body[0] != '0' {
		return nil, fmt.Errorf("polling handshake answered %d %q", status, clip(body, 200))
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(body[1:], &open); err != nil || open.SID == "" {
		return nil, fmt.Errorf("polling handshake: open packet %q", clip(body, 200))
	}
	return &Poll{SID: open.SID, hc: hc, url: tg.URL(pollPath + "&sid=" + url.QueryEscape(open.SID))}, nil
}

// Post sends body as a polling payload and returns the status and answer.
func (p *Poll) Post(ctx context.Context, body []byte) (int, []byte, error) {
	return do(ctx, p.hc, http.MethodPost, p.url, body)
}

// Get polls once and returns the status and the packets of the answer.
func (p *Poll) Get(ctx context.Context) (int, [][]byte, error) {
	status, body, err := do(ctx, p.hc, http.MethodGet, p.url, nil)
	if err != nil || status != http.StatusOK {
		return status, [][]byte{body}, err
	}
	return status, bytes.Split(body, []byte{0x1e}), nil
}

// do sends one request and reads the whole answer (at most 4 MB).
func do(ctx context.Context, hc *http.Client, method, u string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}
