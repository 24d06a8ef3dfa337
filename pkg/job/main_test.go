package job_test

import (
	"os"
	"testing"

	"github.com/ecssnap/ecssnap/pkg/freeze"
)

func TestMain(m *testing.M) {
	// Jobs that freeze re-execute this test binary as the freeze helper.
	if os.Getenv(freeze.HelperEnv) != "" {
		os.Exit(freeze.RunHelper())
	}
	os.Exit(m.Run())
}
