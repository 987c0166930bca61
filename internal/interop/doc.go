// Package interop holds interop tests of the websocket package against peers
// nobody on the team wrote: the Node "ws" package (node/) and Debian's
// python3-websockets (python/). The tests start our side in-process on a free
// loopback port and the peer as a child process; see main_test.go for the
// set-up they need.
package interop
