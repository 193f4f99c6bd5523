package auditlog

// MetadataSize exposes the size Validate computes for metadata, for tests.
func MetadataSize(m map[string]any) int {
	n, _ := metadataSize(m, 1)
	return n
}
