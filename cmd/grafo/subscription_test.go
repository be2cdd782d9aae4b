package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A subscriber on node 2 of a 3-node cluster sees a node upserted through
// node 1 within a second of the write being acknowledged.
func TestSubscriptionAcrossNodes(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	nodes := startCluster(t, 3)
	ctx := context.Background()
	c1 := nodes[0].client()
	if err := c1.GraphQL(ctx, `mutation { createGraph(id: "live") { id } }`, nil, nil); err != nil {
		t.Fatal(err)
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+nodes[1].http+"/graphql", map[string][]string{"Sec-WebSocket-Protocol": {"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	send := func(v any) {
		if err := ws.WriteJSON(v); err != nil {
			t.Fatal(err)
		}
	}
	type msg struct {
		Type    string          `json:"type"`
		ID      string          `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}
	read := func(deadline time.Time) (msg, error) {
		ws.SetReadDeadline(deadline)
		var m msg
		err := ws.ReadJSON(&m)
		return m, err
	}
	send(map[string]any{"type": "connection_init", "payload": map[string]any{}})
	if m, err := read(time.Now().Add(5 * time.Second)); err != nil || m.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v %v", m, err)
	}
	send(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
		"query": `subscription { graphChanged(graphId: "live") { graphId kind nodes at } }`,
	}})
	// The subscription is registered asynchronously; a change published
	// before it would be missed, so write until the first event arrives,
	// then measure one write precisely.
	upsert := func(name string) time.Time {
		err := c1.GraphQL(ctx, `mutation($n: [NodeInput!]!) { upsertNodes(graphId: "live", nodes: $n) { id } }`,
			map[string]any{"n": []map[string]any{{"kind": "FUNCTION", "name": name, "qualifiedName": "live." + name}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	waitFor(t, 10*time.Second, "the subscription to deliver", func() bool {
		upsert("warmup")
		for {
			m, err := read(time.Now().Add(300 * time.Millisecond))
			if err != nil {
				return false
			}
			if m.Type == "next" {
				return true
			}
		}
	})
	// Drain whatever warm-up events are still in flight.
	for {
		if _, err := read(time.Now().Add(300 * time.Millisecond)); err != nil {
			break
		}
	}
	ws.SetReadDeadline(time.Time{})
	// A read timeout poisons a gorilla connection: open a fresh one for the
	// measured write.
	ws.Close()
	ws, _, err = websocket.DefaultDialer.Dial("ws://"+nodes[1].http+"/graphql", map[string][]string{"Sec-WebSocket-Protocol": {"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	send(map[string]any{"type": "connection_init", "payload": map[string]any{}})
	if m, err := read(time.Now().Add(5 * time.Second)); err != nil || m.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v %v", m, err)
	}
	since := time.Now().UTC().Format(time.RFC3339Nano)
	send(map[string]any{"type": "subscribe", "id": "2", "payload": map[string]any{
		"query":     `subscription($s: Time) { graphChanged(graphId: "live", since: $s) { graphId kind nodes at } }`,
		"variables": map[string]any{"s": since},
	}})
	acked := upsert("measured")
	for {
		m, err := read(acked.Add(time.Second))
		if err != nil {
			t.Fatalf("no event on node 2 within 1 s of the write through node 1: %v", err)
		}
		if m.Type == "next" && strings.Contains(string(m.Payload), "NODES_UPSERTED") {
			t.Logf("event on node 2 %v after the write was acknowledged by node 1", time.Since(acked))
			return
		}
	}
}
