// Echo-server answers every WebSocket message M with "Echo: M".
package main

import (
	"log"
	"net/http"

	"github.com/tether-rt/tether/websocket"
)

func echo(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	for {
		typ, message, err := conn.Read(r.Context())
		if err != nil {
			return
		}
		if err := conn.Write(r.Context(), typ, append([]byte("Echo: "), message...)); err != nil {
			return
		}
	}
}

func main() {
	log.Fatal(http.ListenAndServe("localhost:8765", http.HandlerFunc(echo)))
}
