package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tether-rt/tether/socketio"
)

// errInvalidCredentials is the refusal the UI recognizes: it shows its login form again.
var errInvalidCredentials = errors.New("invalid credentials")

var errClosed = errors.New("admin closed")

// credentials is the auth payload the UI sends: a login, or the session id it got after one.
type credentials struct {
	Username  string `json:"username"`
	Password  string `json:"password"`
	SessionID string `json:"sessionId"`
}

// authenticate is the admin namespace's middleware.
func (a *Admin) authenticate(s *socketio.Socket) error {
	if a.closed.Load() {
		return errClosed
	}
	if a.opts.Auth == nil {
		return nil
	}
	var c credentials
	if err := s.Handshake().DecodeAuth(&c); err != nil {
		return errInvalidCredentials
	}
	if c.SessionID != "" && a.sessions.valid(c.SessionID) {
		return nil
	}
	// A bcrypt comparison costs tens of milliseconds of CPU: a bounded number run at once, so
	// that a crowd of logins cannot take every core.
	select {
	case a.logins <- struct{}{}:
		defer func() { <-a.logins }()
	case <-s.Context().Done():
		return errInvalidCredentials
	}
	if a.checkLogin(c) {
		return nil
	}
	return errInvalidCredentials
}

// checkLogin compares a login with the configured one. The hash is compared even when the name
// is wrong, so that the time taken does not tell whether the name was right.
func (a *Admin) checkLogin(c credentials) bool {
	nameOK := subtle.ConstantTimeCompare([]byte(c.Username), []byte(a.opts.Auth.Username)) == 1
	passOK := bcrypt.CompareHashAndPassword([]byte(a.opts.Auth.PasswordHash), []byte(c.Password)) == nil
	return nameOK && passOK
}

// newSessionIfLogin gives a socket that logged in with a password a session id, which the UI
// keeps to reconnect without the password; "" when it came with a valid session or without auth.
func (a *Admin) newSessionIfLogin(s *socketio.Socket) string {
	if a.opts.Auth == nil {
		return ""
	}
	var c credentials
	if err := s.Handshake().DecodeAuth(&c); err != nil {
		return ""
	}
	if c.SessionID != "" && a.sessions.valid(c.SessionID) {
		return ""
	}
	return a.sessions.add()
}

const (
	// maxLogins bounds the password checks running at once.
	maxLogins = 2
	// sessionTTL is how long a session id stays valid, as Node's RedisStore default.
	sessionTTL = 24 * time.Hour
	// maxSessions bounds the store: past it, the oldest session goes.
	maxSessions = 1000
)

// sessionStore keeps the session ids given to UIs that logged in, on this node.
type sessionStore struct {
	mu      sync.Mutex
	expires map[string]time.Time
	order   []string // ids in the order given, for evicting the oldest
}

func newSessionStore() *sessionStore {
	return &sessionStore{expires: map[string]time.Time{}}
}

func (st *sessionStore) add() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	id := hex.EncodeToString(b[:])
	st.mu.Lock()
	defer st.mu.Unlock()
	for len(st.order) >= maxSessions {
		delete(st.expires, st.order[0])
		st.order = st.order[1:]
	}
	st.expires[id] = time.Now().Add(sessionTTL)
	st.order = append(st.order, id)
	return id
}

func (st *sessionStore) valid(id string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	exp, ok := st.expires[id]
	return ok && time.Now().Before(exp)
}
