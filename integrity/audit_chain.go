package integrity

import (
	"strconv"

	"github.com/guaracloud/auditlog"
)

// chainState is where one actor's chain stands during an audit.
type chainState struct {
	next    int64 // the actor_seq the actor's next chained entry must have; -1 when a prune hid it
	last    int64 // seq of the actor's last entry seen (retained or pruned); -1 before any
	chained bool  // the actor's chain has begun: no unchained entry may follow
}

// checkChain checks an entry's place in its actor's chain: entries from
// before chains (none) come first; the first chained entry is actor_seq 0
// with no previous; each next one is the following actor_seq and names the
// actor's previous entry's seq. A pruned previous entry (pruned) leaves only
// its seq to check against.
func (a *auditor) checkChain(e *auditlog.Entry) {
	if a.chains == nil {
		a.chains = map[string]*chainState{}
	}
	st := a.chains[e.ActorID]
	if st == nil {
		st = &chainState{last: -1}
		a.chains[e.ActorID] = st
	}
	c := e.Chain
	defer func() { st.last = e.Seq }()
	if c == nil {
		if st.chained {
			a.fail(e.Seq, "entry of %s has no actor chain, but the actor's chain began earlier: it was committed around the sequencer", e.ActorID)
		}
		return
	}
	prev := int64(-1)
	if c.ActorPrev != nil {
		prev = *c.ActorPrev
	}
	switch {
	case st.next < 0 && (prev == st.last || !st.chained && prev < 0 && c.ActorSeq == 0):
		// After a pruned entry of the actor: it was either the previous
		// chained entry (prev names it) or, when no chained entry of the
		// actor came before it, from before chains (a new chain).
	case st.next < 0:
		a.fail(e.Seq, "%s's chain is broken after a pruned entry: actor_prev is %s, but the actor's previous entry is seq %d", e.ActorID, seqOrNull(prev), st.last)
		return
	case !st.chained && c.ActorSeq == 0 && prev < 0:
	case !st.chained:
		a.fail(e.Seq, "%s's first chained entry has actor_seq %d and actor_prev %s, want 0 and null", e.ActorID, c.ActorSeq, seqOrNull(prev))
		return
	case c.ActorSeq != st.next:
		a.fail(e.Seq, "%s's chain skips or repeats: actor_seq %d, want %d", e.ActorID, c.ActorSeq, st.next)
		return
	case prev != st.last:
		a.fail(e.Seq, "%s's chain is broken: actor_prev is %s, but the actor's previous entry is seq %d", e.ActorID, seqOrNull(prev), st.last)
		return
	}
	st.chained, st.next = true, c.ActorSeq+1
}

// prunedChain records a pruned entry of an actor: its place in the chain is
// unknown (its bytes are gone), only its seq.
func (a *auditor) prunedChain(t Tombstone) {
	if a.chains == nil {
		a.chains = map[string]*chainState{}
	}
	st := a.chains[t.ActorID]
	if st == nil {
		st = &chainState{}
		a.chains[t.ActorID] = st
	}
	st.next, st.last = -1, t.Seq // st.chained stays: whether a chain had begun
}

// seqOrNull renders a previous seq, -1 as null.
func seqOrNull(seq int64) string {
	if seq < 0 {
		return "null"
	}
	return strconv.FormatInt(seq, 10)
}
