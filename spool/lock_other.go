//go:build !unix

package spool

import (
	"fmt"
	"os"
)

// lockDir opens dir/lock; without flock, sharing a spool between processes is not detected.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}
