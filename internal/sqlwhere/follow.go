package sqlwhere

import "github.com/guaracloud/auditlog"

// Head reads the log's newest seq (-1 when empty). A follow read runs it
// before Follow's statement: seqs become visible in commit order, so every
// entry up to that head is visible to the later statement.
const Head = `SELECT COALESCE(MAX(seq), -1) FROM entries`

// Follow returns the statement and arguments of a follow read: the canonical
// bytes of the scope's entries matching f with seq > afterSeq, in ascending
// seq order, at most limit (defaulted and capped as a page is). Both stores
// run it as it is; the scope's owner check is theirs.
func Follow(ph Placeholder, scope auditlog.Scope, f auditlog.Filter, afterSeq int64, limit int) (string, []any) {
	b := Scoped(ph, scope, auditlog.Query{Filter: f})
	b.Where("seq > " + b.Arg(afterSeq))
	lim := b.Arg(Limit(auditlog.Query{Limit: limit}))
	where, args := b.SQL()
	return `SELECT canonical FROM entries ` + where + ` ORDER BY seq LIMIT ` + lim, args
}

// Through is how far a follow read reached: the last entry's seq when the
// page is full (more may follow), otherwise the furthest of the head read
// before it, afterSeq and the last entry returned (entries committed between
// the two statements may come back too; the statement saw every seq below
// them): nothing up to there is left to return.
func Through(entries []auditlog.Entry, afterSeq, head int64, limit int) int64 {
	n := len(entries)
	if n > 0 && n == Limit(auditlog.Query{Limit: limit}) {
		return entries[n-1].Seq
	}
	if n > 0 {
		return max(afterSeq, head, entries[n-1].Seq)
	}
	return max(afterSeq, head)
}
