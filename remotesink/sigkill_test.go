//go:build unix

package remotesink_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/client/clienttest"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/remotesink"
)

// Environment of the helper platform process.
const (
	envHelperDir   = "AUDITLOG_HELPER_SPOOL"
	envHelperURL   = "AUDITLOG_HELPER_URL"
	envHelperToken = "AUDITLOG_HELPER_TOKEN"
)

// TestHelperPlatform is not a test: run by TestSIGKILL as a child process, it
// is a platform whose audit service is down. It makes mutations from several
// goroutines forever and prints "ack <id>" once each response is released.
func TestHelperPlatform(t *testing.T) {
	dir := os.Getenv(envHelperDir)
	if dir == "" {
		t.Skip("helper process for TestSIGKILL")
	}
	sink, err := remotesink.New(remotesink.Config{Dir: dir, URL: os.Getenv(envHelperURL), Token: os.Getenv(envHelperToken),
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	m := platform(sink, interceptor.FailClosed, nil, nil)
	var mu sync.Mutex
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				code, id := mutate(m, fmt.Sprintf("svc_%d_%d", w, i), "")
				if code != 200 || id == "" {
					continue
				}
				mu.Lock()
				os.Stdout.WriteString("ack " + id + "\n") // unbuffered: printed means acknowledged
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Minute) // the parent kills us long before
	os.Exit(3)
}

// TestSIGKILL: a platform process killed with SIGKILL right after
// acknowledging mutations; on restart its spool delivers every acknowledged one.
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	srv := clienttest.New(t, clienttest.FreeAddr(t)) // down while the platform runs
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPlatform$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelperDir+"="+dir, envHelperURL+"="+srv.URL(), envHelperToken+"="+srv.Writer)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const enough = 500
	var acked []string
	lines := bufio.NewScanner(stdout)
	killed := false
	timer := time.AfterFunc(45*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	for lines.Scan() {
		id, ok := strings.CutPrefix(lines.Text(), "ack ")
		if !ok {
			continue
		}
		acked = append(acked, id)
		if len(acked) == enough && !killed {
			killed = true
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil { // mid-stream: appends are in flight
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the helper acknowledged only %d mutations (%v)", len(acked), err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the helper did not die of SIGKILL: %v", err)
	}

	srv.Start()
	sink := newSink(t, dir, srv, nil, nil, nil)
	flush(t, sink, time.Minute)
	stored := map[string]bool{}
	for _, e := range srv.Entries(actor) {
		stored[e.ID] = true
	}
	missing := 0
	for _, id := range acked {
		if !stored[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged mutations never arrived", missing, len(acked))
	}
	t.Logf("%d acknowledged before SIGKILL, %d stored after restart (unacknowledged in-flight ones may arrive too)", len(acked), len(stored))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sink.Close(ctx)
}
