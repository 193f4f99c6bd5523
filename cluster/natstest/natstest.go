// Package natstest starts real NATS JetStream clusters for tests: separate
// nats-server processes (Debian's /usr/sbin/nats-server, or $AUDITLOG_NATS_SERVER)
// on loopback ports with their own storage, which a test can kill -9 and
// restart to see what the audit log does when a node is lost.
package natstest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Cluster is a running NATS cluster of separate processes.
type Cluster struct {
	tb     testing.TB
	bin    string
	dir    string
	name   string
	ports  []int // client ports
	routes []int // cluster ports
	mu     sync.Mutex
	procs  []*exec.Cmd
	exited []chan struct{} // closed when node i's process has exited
	logs   []*syncWriter   // what each node printed
}

// Binary returns the nats-server binary to run, skipping the test when there
// is none (failing it when CI=true).
func Binary(tb testing.TB) string {
	tb.Helper()
	bin := os.Getenv("AUDITLOG_NATS_SERVER")
	if bin == "" {
		bin = "/usr/sbin/nats-server"
	}
	if _, err := os.Stat(bin); err != nil {
		if p, lerr := exec.LookPath("nats-server"); lerr == nil {
			return p
		}
		if os.Getenv("CI") == "true" {
			tb.Fatalf("no nats-server binary at %s (CI=true requires the cluster tests)", bin)
		}
		tb.Skipf("no nats-server binary at %s: skipping the cluster tests", bin)
	}
	return bin
}

// Start starts an n-node JetStream cluster and waits until it has a
// JetStream leader; the processes are killed when the test ends.
func Start(tb testing.TB, n int) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb, bin: Binary(tb), name: fmt.Sprintf("auditlog-test-%d", time.Now().UnixNano()%1e6)}
	// A port FreePort found may be taken by another process before the node
	// binds it (test packages run in parallel, and start NATS too): a node
	// that exits at once is a lost race, and the cluster starts again on
	// other ports.
	for attempt := 1; ; attempt++ {
		c.dir, c.ports, c.routes = tb.TempDir(), nil, nil
		tb.Cleanup(c.Stop) // registered after TempDir, so it runs before the directory is removed
		for range n {
			c.ports = append(c.ports, FreePort(tb))
			c.routes = append(c.routes, FreePort(tb))
		}
		c.procs = make([]*exec.Cmd, n)
		c.exited = make([]chan struct{}, n)
		c.logs = make([]*syncWriter, n)
		for i := range n {
			c.start(i)
		}
		dead := c.waitListening(10 * time.Second)
		if dead < 0 {
			break
		}
		if attempt == 3 {
			tb.Fatalf("natstest: node %d did not start, 3 times: %s", dead, c.Log(dead))
		}
		tb.Logf("natstest: node %d did not start (a port taken since it was picked?); starting again: %s", dead, c.Log(dead))
		c.Stop()
	}
	c.WaitReady(30 * time.Second)
	return c
}

// waitListening waits until every node says it listens on its client port
// (and, in a cluster, its route port), and returns the first node whose
// process exited instead, or -1. It reads the node's own log, not the port:
// another process holding the port would answer a dial.
func (c *Cluster) waitListening(timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	want := "Server is ready"
	for i := range c.ports {
		if len(c.ports) > 1 {
			want = fmt.Sprintf("Listening for route connections on 127.0.0.1:%d", c.routes[i])
		}
		for !strings.Contains(c.Log(i), want) {
			select {
			case <-c.exited[i]:
				return i
			default:
			}
			if time.Now().After(deadline) {
				return i
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A node that lost a port race exits right after trying to bind.
	time.Sleep(50 * time.Millisecond)
	for i := range c.ports {
		select {
		case <-c.exited[i]:
			return i
		default:
		}
	}
	return -1
}

// URLs returns the client URLs of every node, comma-separated.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.ports))
	for i, p := range c.ports {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	return strings.Join(urls, ",")
}

// URL returns node i's client URL.
func (c *Cluster) URL(i int) string { return fmt.Sprintf("nats://127.0.0.1:%d", c.ports[i]) }

// Size is the number of nodes.
func (c *Cluster) Size() int { return len(c.ports) }

func (c *Cluster) start(i int) {
	c.tb.Helper()
	var routes []string
	for j, p := range c.routes {
		if j != i {
			routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
		}
	}
	// max_payload as docs/CLUSTER.md advises: a 4 MiB write body fits in one message.
	conf := filepath.Join(c.dir, "nats.conf")
	if err := os.WriteFile(conf, []byte("max_payload: 8MB\n"), 0o600); err != nil {
		c.tb.Fatalf("natstest: %v", err)
	}
	args := []string{
		"-c", conf, "-n", fmt.Sprintf("n%d", i), "-a", "127.0.0.1", "-p", fmt.Sprint(c.ports[i]),
		"-js", "-sd", filepath.Join(c.dir, fmt.Sprintf("n%d", i)),
	}
	if len(c.ports) > 1 {
		args = append(args, "--cluster_name", c.name,
			"--cluster", fmt.Sprintf("nats://127.0.0.1:%d", c.routes[i]),
			"--routes", strings.Join(routes, ","))
	}
	cmd := exec.Command(c.bin, args...)
	buf := &syncWriter{} // one writer (one lock) for both streams
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		c.tb.Fatalf("natstest: start node %d: %v", i, err)
	}
	exited := make(chan struct{})
	c.mu.Lock()
	c.procs[i], c.logs[i], c.exited[i] = cmd, buf, exited
	c.mu.Unlock()
	go func() {
		cmd.Wait()
		close(exited)
	}()
}

// Kill kills node i with SIGKILL (its storage stays for Restart).
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	p, exited := c.procs[i], c.exited[i]
	c.procs[i] = nil
	c.mu.Unlock()
	if p != nil && p.Process != nil {
		p.Process.Signal(syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			c.tb.Errorf("natstest: node %d did not exit after SIGKILL", i)
		}
	}
}

// Restart starts a killed node again on its ports and storage.
func (c *Cluster) Restart(i int) {
	c.Kill(i)
	c.start(i)
	deadline := time.Now().Add(20 * time.Second)
	for !alive(c.ports[i]) {
		if time.Now().After(deadline) {
			c.tb.Fatalf("natstest: node %d did not come back: %s", i, c.Log(i))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log returns what node i printed.
func (c *Cluster) Log(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logs[i] == nil {
		return ""
	}
	return c.logs[i].String()
}

// Stop kills every node.
func (c *Cluster) Stop() {
	for i := range c.ports {
		c.Kill(i)
	}
}

// WaitReady waits until JetStream answers on every running node (each has
// joined the meta group) and an R-size stream can be placed.
func (c *Cluster) WaitReady(timeout time.Duration) {
	c.tb.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = c.ready(); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	var logs strings.Builder
	for i := range c.ports {
		fmt.Fprintf(&logs, "--- node %d:\n%s", i, c.Log(i))
	}
	c.tb.Fatalf("natstest: JetStream not ready after %s: %v\n%s", timeout, last, logs.String())
}

// ready checks JetStream on every running node, then places (and deletes) a
// probe stream with as many replicas as there are running nodes.
func (c *Cluster) ready() error {
	running := 0
	for i := range c.ports {
		c.mu.Lock()
		up := c.procs[i] != nil
		c.mu.Unlock()
		if !up {
			continue
		}
		running++
		if err := c.probe(c.URL(i), 0); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
	}
	return c.probe(c.URLs(), min(running, 3))
}

// probe asks JetStream for the account info through url and, when replicas
// is positive, creates and deletes a stream of that many replicas.
func (c *Cluster) probe(url string, replicas int) error {
	nc, err := nats.Connect(url, nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.MaxWait(2 * time.Second))
	if err != nil {
		return err
	}
	if _, err := js.AccountInfo(); err != nil {
		return err
	}
	if replicas == 0 {
		return nil
	}
	name := fmt.Sprintf("NATSTEST_PROBE_%d", time.Now().UnixNano())
	if _, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{"natstest.probe." + name}, Replicas: replicas, Storage: nats.MemoryStorage}); err != nil {
		return err
	}
	return js.DeleteStream(name)
}

func alive(port int) bool {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// FreePort returns a loopback port nobody listens on now.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("natstest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncWriter is a node's output, written by its process's stdout and
// stderr copiers and read by Log, all under one lock.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// String returns what was written (the last part, past 1 MiB).
func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() > 1<<20 { // keep the last part only
		w.b.Reset()
	}
	return w.b.Write(p)
}
