package store

import "os"

// WriteFileAtomic is the store's crash-safe write (temp file, fsync,
// rename, fsync of the directory), for other journals kept in the state
// directory beside the job records, such as package restore's.
func WriteFileAtomic(dir, name string, data []byte) error { return writeFileAtomic(dir, name, data) }

// LockFile takes the store's kind of lock (an exclusive flock, not waiting,
// dropped by the kernel when the holder dies) on path. A held lock fails
// with a *LockedError.
func LockFile(path string) (*os.File, error) { return lockFile(path) }
