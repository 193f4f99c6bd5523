package auditlog

import "fmt"

// ActionRetentionPrune is the action of the entry each retention prune
// records about itself; writers may not send it (Validate refuses it).
const ActionRetentionPrune = "audit_log.retention_prune"

// RetentionActor is the actor id of the service's own retention records.
const RetentionActor = "auditlog"

// PrunedError is what Get returns to the actor of an entry that retention removed.
func PrunedError() *Error {
	return Errorf(EPruned, "the audit log entry was removed by the retention limit; its leaf hash still proves it existed")
}

// PrunedConflictError reports an event id whose entry was removed by
// retention: ids stay reserved, so a resend cannot store it again.
func PrunedConflictError(id string) *Error {
	return &Error{Code: EConflict, Message: fmt.Sprintf("id %q was used by an entry that the retention limit has since pruned: ids are never reused", id), Param: "id"}
}
