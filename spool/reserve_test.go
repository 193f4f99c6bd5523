package spool_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/guaracloud/auditlog/spool"
)

// maxEvent is the reservation size of these tests: room for any event(n).
const maxEvent = 1000

func TestReserve(t *testing.T) {
	s := mustOpen(t, t.TempDir(), spool.Options{MaxRecords: 3})
	var held []*spool.Reservation
	for range 3 {
		r, err := s.Reserve(maxEvent)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	// Every place is held: nothing else gets in, whichever way it asks.
	if _, err := s.Reserve(maxEvent); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("a fourth reservation: %v", err)
	}
	if err := s.Append(context.Background(), event(0)); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("an append past the reservations: %v", err)
	}
	if err := s.Admit(); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("Admit with every place reserved: %v", err)
	}
	if st := s.Stats(); st.Reserved != 3 {
		t.Fatalf("%d places reserved, want 3", st.Reserved)
	}

	held[0].Release() // an aborted request gives its place back
	held[0].Release() // twice is harmless
	mustAppend(t, s, 0, 1)
	for i, r := range held[1:] {
		if err := r.Append(context.Background(), event(1+i)); err != nil {
			t.Fatalf("a reserved place did not take its record: %v", err)
		}
		r.Release() // after use: nothing to give back
	}
	if n, _ := s.Depth(); n != 3 || s.Stats().Reserved != 0 {
		t.Fatalf("depth %d, reserved %d after using every place", n, s.Stats().Reserved)
	}
	if err := held[1].Append(context.Background(), event(9)); !errors.Is(err, spool.ErrReservationEnded) {
		t.Fatalf("a reservation used twice: %v", err)
	}
	got, recs := ids(t, s, 10)
	wantIDs(t, got, 0, 3)
	s.Ack(recs[0].Seq)
	if _, err := s.Reserve(maxEvent); err != nil {
		t.Fatalf("no place after an ack: %v", err)
	}
}

func TestReserveBytes(t *testing.T) {
	raw, _ := json.Marshal(event(0))
	// Room for two reservations of maxEvent (plus framing) but not three.
	s := mustOpen(t, t.TempDir(), spool.Options{MaxBytes: 2*(maxEvent+16) + maxEvent/2})
	a, err := s.Reserve(maxEvent)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Reserve(maxEvent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve(maxEvent); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("a third reservation of %d bytes: %v", maxEvent, err)
	}
	// A record counts its real size once written, freeing the rest of its place.
	if err := a.Append(context.Background(), event(0)); err != nil {
		t.Fatal(err)
	}
	if _, bytes := s.Depth(); bytes != int64(len(raw)+16) {
		t.Fatalf("depth %d bytes, want the record's %d", bytes, len(raw)+16)
	}
	c, err := s.Reserve(maxEvent)
	if err != nil {
		t.Fatalf("the unused part of a place was not freed: %v", err)
	}
	b.Release()
	c.Release()
	if _, err := s.Reserve(10 << 20); err == nil {
		t.Fatal("a reservation larger than any record was accepted")
	}
}

func TestReserveClosed(t *testing.T) {
	s := mustOpen(t, t.TempDir(), spool.Options{})
	r, err := s.Reserve(maxEvent)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := r.Append(context.Background(), event(0)); !errors.Is(err, spool.ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	r.Release()
	if _, err := s.Reserve(maxEvent); !errors.Is(err, spool.ErrClosed) {
		t.Fatalf("Reserve after Close: %v", err)
	}
}

// TestReserveConcurrent: many goroutines reserve, then append or give the
// place back, while a consumer drains: the bound holds at every moment, every
// reserved place takes its record, and no place leaks. Run it with -race.
func TestReserveConcurrent(t *testing.T) {
	const bound, workers, each = 4, 16, 25
	s := mustOpen(t, t.TempDir(), spool.Options{MaxRecords: bound})
	var appended, released, refused, over atomic.Int64
	// room counts the times room was made (a release, an ack); a refused worker waits for the next.
	var mu sync.Mutex
	room, made := sync.NewCond(&mu), 0
	madeRoom := func() { mu.Lock(); made++; room.Broadcast(); mu.Unlock() }
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; i < each; {
				mu.Lock()
				seen := made
				mu.Unlock()
				r, err := s.Reserve(maxEvent)
				if errors.Is(err, spool.ErrFull) {
					refused.Add(1)
					mu.Lock()
					for made == seen {
						room.Wait()
					}
					mu.Unlock()
					continue
				}
				i++
				if err != nil {
					t.Error(err)
					return
				}
				if (w+i)%3 == 0 {
					r.Release()
					released.Add(1)
					madeRoom()
					continue
				}
				if err := r.Append(context.Background(), event(w*each+i)); err != nil {
					t.Errorf("a reserved place refused its record: %v", err)
				}
				appended.Add(1)
				if n, _ := s.Depth(); n > bound {
					over.Add(1)
				}
			}
		})
	}
	stop := make(chan struct{})
	var acked atomic.Int64
	done := make(chan struct{})
	go func() { // the consumer
		defer close(done)
		for {
			recs, err := s.Peek(bound)
			if err != nil {
				t.Error(err)
				return
			}
			if len(recs) > 0 {
				s.Ack(recs[len(recs)-1].Seq)
				acked.Add(int64(len(recs)))
				madeRoom()
				continue
			}
			select {
			case <-stop:
				return
			case <-s.Notify():
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	depth, _ := s.Depth()
	t.Logf("%d appended, %d released, %d refused, %d acknowledged", appended.Load(), released.Load(), refused.Load(), acked.Load())
	if over.Load() != 0 || depth > bound || depth != appended.Load()-acked.Load() {
		t.Fatalf("bound %d: exceeded %d times; depth %d, appended %d, acknowledged %d", bound, over.Load(), depth, appended.Load(), acked.Load())
	}
	if st := s.Stats(); st.Reserved != 0 {
		t.Fatalf("%d places leaked", st.Reserved)
	}
	// No leak: exactly the free room can be reserved again.
	free := 0
	for ; ; free++ {
		r, err := s.Reserve(maxEvent)
		if err != nil {
			break
		}
		defer r.Release()
	}
	if free != bound-int(depth) {
		t.Fatalf("%d places free after the storm, want %d", free, bound-int(depth))
	}
}
