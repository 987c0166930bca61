package main

import (
	"net/http"

	"github.com/lxzan/gws"
)

func init() { register("gws", gwsHandler) }

// gwsEcho uses gws's event API: OnMessage gets a pooled message that is
// returned to the pool by Close once it has been written back.
type gwsEcho struct{ gws.BuiltinEventHandler }

func (gwsEcho) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}

var gwsUpgrader = gws.NewUpgrader(gwsEcho{}, &gws.ServerOption{
	ParallelEnabled:   false,
	PermessageDeflate: gws.PermessageDeflate{Enabled: false},
})

func gwsHandler(w http.ResponseWriter, r *http.Request) {
	c, err := gwsUpgrader.Upgrade(w, r)
	if err != nil {
		return
	}
	go c.ReadLoop()
}
