package cloud

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// NoCredentialsError is a provider chain that produced no credentials. Its
// message is one line saying what is missing: credentials-go's own is one
// error per provider (700 characters for the usual case of a key that was
// never set), which buries the one that matters.
type NoCredentialsError struct {
	Missing string // what to set or create, in words
	Chain   error  // credentials-go's error
}

func (e *NoCredentialsError) Error() string { return "no credentials: " + e.Missing }

func (e *NoCredentialsError) Unwrap() []error { return []error{ErrNoCredentials, e.Chain} }

// credentialEnv is what the credentials-go default chain reads, so that
// the diagnosis names the same variables and files it tried.
type credentialEnv struct {
	getenv func(string) string
	home   string
	exists func(path string) bool
}

func osCredentialEnv() credentialEnv {
	home, _ := os.UserHomeDir()
	return credentialEnv{getenv: os.Getenv, home: home, exists: func(p string) bool {
		_, err := os.Stat(p)
		return err == nil
	}}
}

const (
	envKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	envKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
)

// diagnoseCredentials says what is missing for the default chain to find
// credentials, given the chain's error.
func diagnoseCredentials(env credentialEnv, chain error) string {
	id, secret := env.getenv(envKeyID) != "", env.getenv(envKeySecret) != ""
	switch {
	case id && !secret:
		return envKeySecret + " is not set (" + envKeyID + " is)"
	case secret && !id:
		return envKeyID + " is not set (" + envKeySecret + " is)"
	case id && secret:
		// The key is there; something else went wrong with it.
		return oneLine(chain.Error())
	}
	var files []string
	profile := env.getenv("ALIBABA_CLOUD_CREDENTIALS_FILE")
	if profile == "" {
		profile = filepath.Join(env.home, ".alibabacloud", "credentials")
	}
	files = append(files, profile)
	if !strings.EqualFold(env.getenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED"), "true") {
		cli := env.getenv("ALIBABA_CLOUD_CONFIG_FILE")
		if cli == "" {
			cli = filepath.Join(env.home, ".aliyun", "config.json")
		}
		files = append(files, cli)
	}
	var absent, present []string
	for _, f := range files {
		if env.exists(f) {
			present = append(present, f)
		} else {
			absent = append(absent, f)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s and %s are not set", envKeyID, envKeySecret)
	switch len(absent) {
	case 1:
		fmt.Fprintf(&b, ", %s does not exist", absent[0])
	case 2:
		fmt.Fprintf(&b, ", neither %s nor %s exists", absent[0], absent[1])
	}
	for _, f := range present {
		fmt.Fprintf(&b, ", %s has no usable profile", f)
	}
	if strings.EqualFold(env.getenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED"), "true") {
		b.WriteString(", and ALIBABA_CLOUD_ECS_METADATA_DISABLED=true turns off the instance's RAM role")
	} else {
		b.WriteString(", and the metadata service gave no RAM role (attach one to the instance)")
	}
	return b.String()
}

// noCredentials wraps the chain's failure with the diagnosis.
func noCredentials(chain error) error {
	return &NoCredentialsError{Missing: diagnoseCredentials(osCredentialEnv(), chain), Chain: chain}
}

// isNoCredentials reports whether err carries a diagnosis (the hint would
// only repeat it).
func isNoCredentials(err error) bool {
	var nc *NoCredentialsError
	return errors.As(err, &nc)
}
