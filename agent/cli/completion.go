package cli

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sync"

	"github.com/spf13/cobra"
)

// Shells `ecssnap completion` writes a script for.
var completionShells = []string{"bash", "zsh", "fish"}

// newCompletionCmd is `ecssnap completion SHELL`: the script comes from
// the command definitions (cobra's generators, which ask the binary itself
// via its hidden __complete command), so it cannot drift from them. The
// packages ship the scripts made at build time.
func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "print the shell completion script (the packages install it)",
		Long: `Print the shell completion script for ecssnap and snapshot-now.

The packages install it; to load it by hand:
  bash:  source <(ecssnap completion bash)
  zsh:   ecssnap completion zsh > "${fpath[1]}/_ecssnap"
  fish:  ecssnap completion fish | source`,
		ValidArgs: completionShells,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("completion: name a shell: bash, zsh or fish")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeCompletion(cmd.Root(), args[0], cmd.OutOrStdout())
		},
	}
}

// writeCompletion writes shell's script for ecssnap, registered for
// snapshot-now as well: that name's requests come back as
// `snapshot-now __complete ...`, which Run turns into `__complete now ...`.
func writeCompletion(root *cobra.Command, shell string, w io.Writer) error {
	var buf bytes.Buffer
	var err error
	switch shell {
	case "bash":
		err = root.GenBashCompletionV2(&buf, true)
	case "zsh":
		err = root.GenZshCompletion(&buf)
	case "fish":
		err = root.GenFishCompletion(&buf, true)
	default:
		return usagef("completion: unknown shell %q: want bash, zsh or fish", shell)
	}
	if err != nil {
		return fmt.Errorf("completion %s: %w", shell, err)
	}
	script, err := alsoSnapshotNow(shell, buf.Bytes())
	if err != nil {
		return err
	}
	_, err = w.Write(script)
	return err
}

// Where each generator names the program, to add snapshot-now beside it.
var (
	bashRegister = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^(\s*complete .*-F __start_ecssnap ecssnap)$`) })
	zshCompdef   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^((?:#compdef|compdef _ecssnap) ecssnap)$`) })
	fishComplete = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^(complete (?:-k )?-c )ecssnap( .*)$`) })
)

func alsoSnapshotNow(shell string, script []byte) ([]byte, error) {
	var out []byte
	switch shell {
	case "bash":
		out = bashRegister().ReplaceAll(script, []byte("$1 snapshot-now"))
	case "zsh":
		out = zshCompdef().ReplaceAll(script, []byte("$1 snapshot-now"))
	case "fish":
		// Every `complete -c ecssnap` line again for snapshot-now.
		var extra []byte
		for _, m := range fishComplete().FindAllSubmatch(script, -1) {
			extra = fmt.Appendf(extra, "%ssnapshot-now%s\n", m[1], m[2])
		}
		out = append(append(bytes.Clone(script), "\n# snapshot-now is `ecssnap now`.\n"...), extra...)
	}
	if bytes.Equal(out, script) || !bytes.Contains(out, []byte("snapshot-now")) {
		// The generator's output changed shape: fail loudly rather than
		// ship a script that leaves snapshot-now without completion.
		return nil, fmt.Errorf("completion %s: cannot register snapshot-now in the generated script", shell)
	}
	return out, nil
}
