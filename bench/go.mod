module github.com/tether-rt/tether/bench

go 1.26.0

replace github.com/tether-rt/tether => ../

require (
	github.com/coder/websocket v1.8.15
	github.com/gorilla/websocket v1.5.3
	github.com/lxzan/gws v1.8.9
	github.com/tether-rt/tether v0.0.0-00010101000000-000000000000
)

require (
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/klauspost/compress v1.17.9 // indirect
)
