package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestClusterSurvivesOneNode starts three nodes, makes an R3 stream, kills one
// node, publishes, and restarts it: the stream keeps its quorum throughout.
func TestClusterSurvivesOneNode(t *testing.T) {
	c := Start(t, 3)
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.MaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish("t.a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	c.Kill(1)
	var ok bool
	for range 50 {
		if _, err := js.Publish("t.a", []byte("2")); err == nil {
			ok = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !ok {
		t.Fatal("no publish succeeded with one of three nodes down")
	}
	c.Restart(1)
	c.WaitReady(20 * time.Second)
	// Right after the restart the answer may come from a replica still
	// catching up (or during a leader change), so the count is polled; it must
	// reach exactly 2 and never more.
	var msgs uint64
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		info, err := js.StreamInfo("T")
		if err != nil {
			continue
		}
		if msgs = info.State.Msgs; msgs > 2 {
			t.Fatalf("stream holds %d messages, want 2", msgs)
		}
		if msgs == 2 {
			return
		}
	}
	t.Fatalf("stream holds %d messages, want 2", msgs)
}
