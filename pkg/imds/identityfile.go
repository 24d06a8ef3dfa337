package imds

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/ecssnap/ecssnap/pkg/replacefile"
)

// bootIDFile names this boot of the kernel; it changes at every boot.
const bootIDFile = "/proc/sys/kernel/random/boot_id"

// identityFile is what Config.IdentityFile holds: the identity, and what
// it is valid for.
type identityFile struct {
	BootID   string   `json:"boot_id"`
	Endpoint string   `json:"endpoint"`
	Identity Identity `json:"identity"`
}

// maxIdentityFile bounds what is read: the file holds a few short strings.
const maxIdentityFile = 4096

// kept returns the identity the file holds when it was read from this
// client's endpoint during this boot. An instance's identity cannot change
// while it runs; a file from an earlier boot may be another instance's (an
// image or a disk made from this one), and is ignored, as is anything
// that does not read as an identity.
func (c *Client) kept() (Identity, bool) {
	if c.cfg.IdentityFile == "" {
		return Identity{}, false
	}
	boot, err := c.bootID()
	if err != nil {
		c.cfg.Logger.Debug("no boot ID to check the kept identity against", "error", err)
		return Identity{}, false
	}
	data, err := readLimited(c.cfg.IdentityFile, maxIdentityFile)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.cfg.Logger.Debug("could not read the kept identity", "file", c.cfg.IdentityFile, "error", err)
		}
		return Identity{}, false
	}
	var f identityFile
	if err := json.Unmarshal(data, &f); err != nil || f.BootID != boot || f.Endpoint != c.base || checkIdentity(f.Identity) != nil {
		return Identity{}, false
	}
	return f.Identity, true
}

// keep writes id to the identity file for the next processes of this
// boot. It is a cache: a failure costs them one read of the service.
func (c *Client) keep(id Identity) {
	if c.cfg.IdentityFile == "" {
		return
	}
	boot, err := c.bootID()
	if err == nil {
		var data []byte
		data, err = json.Marshal(identityFile{BootID: boot, Endpoint: c.base, Identity: id})
		if err == nil {
			err = replacefile.Bytes(c.cfg.IdentityFile, 0o600, data)
		}
	}
	if err != nil {
		c.cfg.Logger.Debug("could not keep the identity for later processes", "file", c.cfg.IdentityFile, "error", err)
	}
}

// readBootID reads this boot's ID.
func readBootID() (string, error) {
	data, err := readLimited(bootIDFile, 64)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(data))
	if id == "" {
		return "", fmt.Errorf("%s is empty", bootIDFile)
	}
	return id, nil
}

// readLimited reads at most limit bytes of path; a longer file is an error.
func readLimited(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%s: longer than %d bytes", path, limit)
	}
	return data, nil
}
