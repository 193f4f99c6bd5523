// Package interceptor records one audit event for every request to a
// declared mutating route of a net/http service: the Guara Cloud platform's
// audit interceptor. It imports the standard library and the auditlog
// domain packages only, so a platform embeds it cheaply.
//
// A platform registers its routes on a Mux: reads with Handle, mutations with
// Audit and a Route declaring the action and resource. Mux.Uncovered lists
// every mutating route registered without a declaration, for a test to fail
// on. Platforms with another router wrap each mutating handler with Wrap.
//
// For every request to an audited route the interceptor:
//
//   - reserves, before the handler runs, the place of the request's event in
//     the sink (Reserver: a bounded spool); in FailClosed mode a refusal is a
//     503 and the handler never runs, however many requests arrive at once;
//     refusals are reported to the sink (RefusalReporter) and logged at most
//     once per RefusalLogInterval;
//   - checks, before the handler runs, that the actor id from Config.Actor is
//     not personal data (an e-mail, a CPF...: auditlog.CheckActorID), a
//     configuration bug that makes the event unrecordable; in FailClosed mode
//     that is a 503 and the handler never runs, in FailOpen mode the handler
//     runs and the event is reported lost (its actor id redacted);
//   - runs the handler against a buffered response writer, recovering a panic
//     with the stack where it happened;
//   - builds the event: a time-ordered UUIDv7 id, the action and resource type
//     of the Route, the resource and project ids from path wildcards or from
//     SetResourceID / SetProjectID, the actor from Config.Actor, the outcome,
//     the client address and the user agent, the metadata the handler
//     attached with AddMetadata and what Config.Enrich adds, all sanitized
//     with auditlog.Sanitize (every field redacted, the address anonymized)
//     before it leaves the process;
//   - records the event in its reserved place (or through Sink.Record) and
//     waits until that returns, so that no response reaches the client before
//     its event is durable;
//   - releases the buffered response, or, when recording failed in FailClosed
//     mode, answers 503 audit_unavailable instead (the mutation may have taken
//     effect: the client is told to check before retrying); in FailOpen mode
//     it releases the response and reports the loss;
//   - re-panics after recording when the handler panicked, with a *PanicError
//     carrying the handler's value and stack, so the server's own recovery
//     (http.Server aborts the connection) still happens and its log shows the
//     frames that panicked.
//
// The helpers (SetResourceID, AddMetadata, Fail, ...) also come in a
// context form (SetResourceIDContext, AddMetadataContext, ...) for service
// layers that hold only the request's context; both return false when they
// did nothing (outside an audited route, or after the event was built).
//
// The outcome is success when the handler finishes with a status below 400
// and did not call Fail; it is failed on a 4xx or 5xx status, on Fail, and on
// panic. A failure's status, code and message go to metadata["error"]: the
// code and message come from Fail, else from a JSON error body of the shape
// {"error": {"code": "...", "message": "..."}}, else from the status text.
//
// Unauthenticated requests (Config.Actor returns false) are still audited,
// with the actor id Anonymous: an anonymous attempt to mutate a project is
// something its owner wants to see in the admin trail.
package interceptor
