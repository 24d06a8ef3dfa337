package hook

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// seed adds every file under testdata/dir to f's corpus.
func seed(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
}

// FuzzParseAptV3: apt's hook input never panics the parser, and what it
// accepts yields changes with names.
func FuzzParseAptV3(f *testing.F) {
	seed(f, "apt")
	f.Add([]byte("VERSION 3\n\nx - - none < 1 all none **CONFIGURE**\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseAptV3(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, c := range in.Changes() {
			if c.Name == "" || c.Action == "" {
				t.Fatalf("change without name or action: %+v", c)
			}
		}
		_ = aptSubcommand(in.CommandLine())
	})
}

// FuzzReadFrame: zypper's frames never panic the reader, and a frame read
// and written again reads back the same.
func FuzzReadFrame(f *testing.F) {
	seed(f, "zypper")
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for range 16 {
			fr, err := ReadFrame(r)
			if err != nil {
				return
			}
			var buf bytes.Buffer
			if err := WriteFrame(&buf, fr); err != nil {
				t.Fatal(err)
			}
			again, err := ReadFrame(bufio.NewReader(&buf))
			if err != nil || again.Command != fr.Command || !bytes.Equal(again.Body, fr.Body) || len(again.Headers) != len(fr.Headers) {
				t.Fatalf("round trip of %+v: %+v, %v", fr, again, err)
			}
			_, _ = zypperChanges(fr.Body)
		}
	})
}

// FuzzParsePluginInput: the plugins' JSON never panics the parser.
func FuzzParsePluginInput(f *testing.F) {
	seed(f, "plugin")
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParsePluginInput(bytes.NewReader(data))
		if err != nil {
			return
		}
		_ = commandLine(in.Argv)
		for _, c := range in.Changes() {
			if c.Name == "" {
				t.Fatalf("change without a name: %+v", c)
			}
		}
	})
}
