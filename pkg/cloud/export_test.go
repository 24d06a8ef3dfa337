package cloud

// WarmStarted reports whether a written request has started the decoders'
// warm-up in this process.
func WarmStarted() bool { return warmStarted.Load() }
