package backend

import (
	"context"
	"errors"
	"io"
	"time"
)

// InstanceRef names an instance; an empty Project means the endpoint's own.
type InstanceRef struct {
	Project string
	Name    string
}

// Instance is an instance as the server reports it, state included.
type Instance struct {
	Name        string
	Project     string
	Description string
	Type        string
	// Status is Running, Stopped, Frozen, or a transitional status.
	Status    string
	Location  string
	Profiles  []string
	Ephemeral bool
	// Config holds the instance's own keys; ExpandedConfig adds its profiles'.
	Config          map[string]string
	ExpandedConfig  map[string]string
	Devices         map[string]map[string]string
	CreatedAt       time.Time
	LastUsedAt      time.Time
	IPv4, IPv6, MAC string
}

// InstanceSpec is what a user sets on an instance and a server can change in place.
type InstanceSpec struct {
	Description string
	Profiles    []string
	Config      map[string]string
	Devices     map[string]map[string]string
	Ephemeral   bool
}

// InstanceCreate describes a new instance.
type InstanceCreate struct {
	InstanceRef
	InstanceSpec
	Type string
	// Image is an alias or fingerprint, on Remote when set, else on the endpoint.
	Image  string
	Remote *RemoteImage
	// Target is the cluster member to place the instance on.
	Target string
	// KeepMark leaves the instance's creation mark for the caller to remove with
	// FinishCreate once its own work on the new instance (files, start, commands)
	// is done, so that a run killed meanwhile leaves an instance the next create of
	// it takes over, not one whose name is taken.
	KeepMark bool
}

// StateChange asks an instance to start, stop, restart, freeze or unfreeze.
type StateChange struct {
	Action string
	// Timeout is how long a graceful stop may take before Force applies.
	Timeout time.Duration
	Force   bool
}

// File is a file pushed into an instance.
type File struct {
	Path    string
	Content io.Reader
	UID     int64
	GID     int64
	Mode    uint32
}

// ExecResult is a finished command's outcome.
type ExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// Exec is a command to run in an instance, with its output recorded.
type Exec struct {
	Command     []string
	Environment map[string]string
}

// ErrNotCreated marks a CreateInstance error after which the call certainly left no
// instance: the request was never sent, the server refused it outright, or the name
// is taken by another instance. After any other error (a failed or abandoned
// operation, a time-out, a lost connection) the instance may exist.
var ErrNotCreated = errors.New("instance not created")

// NotCreated wraps err with ErrNotCreated, keeping its message and its kind.
func NotCreated(err error) error { return &notCreatedError{err} }

type notCreatedError struct{ err error }

func (e *notCreatedError) Error() string   { return e.err.Error() }
func (e *notCreatedError) Unwrap() []error { return []error{e.err, ErrNotCreated} }

// InstanceStore manages instances.
type InstanceStore interface {
	// DefaultProject is the project an InstanceRef with an empty Project means.
	DefaultProject() string
	// CreateInstance creates the instance, stopped. See ErrNotCreated for what an
	// error says about whether it exists.
	CreateInstance(ctx context.Context, spec InstanceCreate) error
	// FinishCreate ends a create made with KeepMark.
	FinishCreate(ctx context.Context, ref InstanceRef) error
	GetInstance(ctx context.Context, ref InstanceRef) (*Instance, error)
	// ImageSource is the image server and alias an instance's image was pulled
	// from, as the server's cached copy of the image (fingerprint) records them;
	// nil when the image was not pulled to create an instance; an error wrapping
	// ErrNotFound when the server no longer holds the image (its cached copy has
	// expired, or it was deleted), so that nothing tells where it came from.
	ImageSource(ctx context.Context, ref InstanceRef, fingerprint string) (*RemoteImage, error)
	UpdateInstance(ctx context.Context, ref InstanceRef, spec InstanceSpec) error
	ChangeState(ctx context.Context, ref InstanceRef, change StateChange) error
	DeleteInstance(ctx context.Context, ref InstanceRef) error
	PushFile(ctx context.Context, ref InstanceRef, f File) error
	Exec(ctx context.Context, ref InstanceRef, e Exec) (*ExecResult, error)
}
