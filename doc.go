// Package auditlog is the domain vocabulary of the Guara Cloud audit log:
// the entry a mutation leaves behind, the event a writer sends, the filters
// a reader applies, the privacy scope every read runs under, the action
// catalog, the error codes and the storage interfaces.
//
// It imports the standard library only, so services that embed the audit
// interceptor stay light. Adapters live in subpackages named after what they
// adapt (sqlite, api, redact, sequencer).
package auditlog
