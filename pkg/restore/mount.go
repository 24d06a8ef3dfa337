package restore

// MountState is a mount's journal beyond its steps.
type MountState struct{}
