// Package interop holds interop tests of Tether's protocol packages against peers nobody on the
// team wrote: for websocket, the Node "ws" package and Debian's python3-websockets; for engineio,
// npm's engine.io-client and engine.io and Debian's python3-engineio (and engine.io-client 3 for
// Engine.IO v3); for socketio, npm's socket.io-client (4, and 2 for the Engine.IO v3 sessions of
// AllowEIO3) and socket.io; for both, Debian's headless Chromium driven by playwright-core; for
// socketio/admin, npm's @socket.io/admin-ui (its server side as the reference, its built UI in
// Chromium). The tests start our side in-process on a free loopback port
// and the peer as a child process; see main_test.go for the set-up they need (make deps installs it).
package interop
