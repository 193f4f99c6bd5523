package cluster

import (
	"testing"

	"github.com/guaracloud/auditlog/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
