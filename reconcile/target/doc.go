// Package target defines what the reconciler asks of a target driver: to
// observe the state an action concerns, to apply the action, and to
// restore a state observed earlier. The drivers live in the subpackages
// oci, git and http; each is small and knows one kind of target.
package target
