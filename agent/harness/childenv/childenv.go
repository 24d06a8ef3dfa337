// Package childenv builds the environment the harnesses give the ecssnap
// processes they start, so that nothing of the outer environment can point
// them at a real cloud or another daemon.
package childenv

import (
	"os"
	"slices"
	"strings"
)

// Clean is this process's environment without anything that could point
// ecssnap elsewhere (ECSSNAP_*, ALIBABA_CLOUD_*, HTTP(S)_PROXY in any
// case), plus vars.
func Clean(vars map[string]string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return strings.HasPrefix(k, "ECSSNAP_") || strings.HasPrefix(k, "ALIBABA_CLOUD_") ||
			strings.EqualFold(k, "HTTP_PROXY") || strings.EqualFold(k, "HTTPS_PROXY")
	})
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}
