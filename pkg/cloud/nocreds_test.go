package cloud

import (
	"errors"
	"testing"
)

func TestDiagnoseCredentials(t *testing.T) {
	chain := errors.New("unable to get credentials from any of the providers in the chain: ...")
	tests := []struct {
		name  string
		env   map[string]string
		files []string
		want  string
	}{
		{"nothing at all", nil, nil,
			"ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set, neither /home/u/.alibabacloud/credentials nor /home/u/.aliyun/config.json exists, and the metadata service gave no RAM role (attach one to the instance)"},
		{"only the ID", map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI"}, nil,
			"ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set (ALIBABA_CLOUD_ACCESS_KEY_ID is)"},
		{"only the secret", map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"}, nil,
			"ALIBABA_CLOUD_ACCESS_KEY_ID is not set (ALIBABA_CLOUD_ACCESS_KEY_SECRET is)"},
		{"metadata off, CLI profile off, a profile file elsewhere", map[string]string{
			"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true", "ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "TRUE",
			"ALIBABA_CLOUD_CREDENTIALS_FILE": "/etc/creds"}, nil,
			"ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set, /etc/creds does not exist, and ALIBABA_CLOUD_ECS_METADATA_DISABLED=true turns off the instance's RAM role"},
		{"a file without a usable profile", nil, []string{"/home/u/.aliyun/config.json"},
			"ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set, /home/u/.alibabacloud/credentials does not exist, /home/u/.aliyun/config.json has no usable profile, and the metadata service gave no RAM role (attach one to the instance)"},
		{"a key that failed otherwise", map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"}, nil,
			chain.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := credentialEnv{
				getenv: func(k string) string { return tt.env[k] },
				home:   "/home/u",
				exists: func(p string) bool {
					for _, f := range tt.files {
						if f == p {
							return true
						}
					}
					return false
				},
			}
			if got := diagnoseCredentials(env, chain); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	err := &NoCredentialsError{Missing: "x", Chain: chain}
	if !errors.Is(err, ErrNoCredentials) || !errors.Is(err, chain) {
		t.Error("NoCredentialsError does not wrap ErrNoCredentials and the chain's error")
	}
}
