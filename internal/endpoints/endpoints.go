// Package endpoints holds the provider's named endpoints and connects each one lazily,
// on first use, caching the client (or the failure) for the rest of the run, so an
// endpoint that is down only fails the objects that use it. Each kind of endpoint
// plugs in with Register.
package endpoints

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// Config is one named endpoint as the provider block configures it.
type Config struct {
	Name string
	Kind backend.Kind
	// Settings is what the kind's Settings function read from its block.
	Settings any
	// Unknown names the settings (as paths in the provider block) that are not known
	// yet, at plan time, because they come from other resources. Such an endpoint
	// resolves, for plan-time checks, but is never connected: Get fails with an
	// *UnknownConfigError, and Settings is nil.
	Unknown []string
}

// UnknownConfigError is Get's answer for an endpoint whose settings are not known
// yet. Reading an object there must fail with it, never fall back to defaults, nor
// take the object for gone.
type UnknownConfigError struct {
	Endpoint string
	Kind     backend.Kind
	Settings []string
}

func (e *UnknownConfigError) Error() string {
	verb := "is"
	if len(e.Settings) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("endpoint %q (%s) cannot be used before apply: %s in the provider block %s known only after apply, from another resource's output. "+
		"Create that resource first (terraform apply -target=<that resource>), or set the endpoint from values known at plan time (literals, variables, data sources) or in a separate configuration",
		e.Endpoint, e.Kind, strings.Join(e.Settings, ", "), verb)
}

// Endpoint is a connected endpoint. Each store is nil when the kind lacks it.
type Endpoint struct {
	Name      string
	Kind      backend.Kind
	Server    string
	Images    backend.ImageStore
	Aliases   backend.AliasStore
	Exporter  backend.ImageExporter
	Instances backend.InstanceStore
	Members   backend.MemberStore
	Shares    backend.ShareStore
}

// Registry resolves endpoint names and hands out connected endpoints.
type Registry struct {
	defaultName string
	configs     map[string]Config

	mu    sync.Mutex
	conns map[string]*conn
}

// conn is one endpoint's connection, made once; done is closed when ep or err is set.
type conn struct {
	done chan struct{}
	ep   *Endpoint
	err  error
}

// Connector connects one endpoint of its kind and returns its stores.
type Connector func(ctx context.Context, cfg Config) (*Endpoint, error)

// connectTimeout bounds a connection. The connection runs apart from the request that
// asked for it first, so that request's cancellation or timeout cannot fail the
// endpoint for every later one; this bound stops a connection that hangs.
var connectTimeout = 2 * time.Minute

// NewRegistry checks the names and the default; nothing is contacted yet.
func NewRegistry(defaultName string, configs []Config) (*Registry, error) {
	r := &Registry{configs: map[string]Config{}, conns: map[string]*conn{}}
	for _, c := range configs {
		r.configs[c.Name] = c
	}
	switch {
	case defaultName != "":
		if _, ok := r.configs[defaultName]; !ok {
			return nil, fmt.Errorf("default_endpoint %q is not in endpoints (configured: %s): name one of these, or add %q to endpoints", defaultName, r.names(), defaultName)
		}
	case len(configs) == 1:
		defaultName = configs[0].Name
	}
	r.defaultName = defaultName
	return r, nil
}

func (r *Registry) names() string {
	var ns []string
	for n := range r.configs {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	if len(ns) == 0 {
		return "none"
	}
	return strings.Join(ns, ", ")
}

// Resolve turns an endpoint argument (empty for the default) into a configured name
// and its kind, without connecting. Resources call it at plan time.
func (r *Registry) Resolve(name string) (string, backend.Kind, error) {
	if name == "" {
		if r.defaultName == "" {
			return "", "", fmt.Errorf("no endpoint given and the provider has no default_endpoint (configured: %s): set endpoint on the object or default_endpoint on the provider", r.names())
		}
		name = r.defaultName
	}
	c, ok := r.configs[name]
	if !ok {
		return "", "", fmt.Errorf("endpoint %q is not configured in the provider's endpoints (configured: %s): name one of these, or add %q to the provider's endpoints", name, r.names(), name)
	}
	return name, c.Kind, nil
}

// From recovers the registry the provider hands its resources and data sources. Nil
// data (before the provider is configured) gives a nil registry and no error.
func From(providerData any) (*Registry, error) {
	if providerData == nil {
		return nil, nil
	}
	reg, ok := providerData.(*Registry)
	if !ok {
		return nil, fmt.Errorf("provider data is a %T, not an endpoint registry: this is a bug in the provider", providerData)
	}
	return reg, nil
}

// SplitID splits an import ID "[endpoint:]rest" into the endpoint (empty for the
// default) and the rest, which names the object on that endpoint.
func SplitID(id string) (endpoint, rest string) {
	if i := strings.Index(id, ":"); i >= 0 {
		return id[:i], id[i+1:]
	}
	return "", id
}

// IsDefault reports whether name is the default endpoint.
func (r *Registry) IsDefault(name string) bool { return name == r.defaultName }

// Same reports whether two endpoint arguments (empty meaning the default) name the
// same endpoint, so writing out the default's name does not replace anything.
func (r *Registry) Same(a, b string) bool {
	if a == "" {
		a = r.defaultName
	}
	if b == "" {
		b = r.defaultName
	}
	return a == b
}

// Require checks at plan time that the endpoint's kind can do what is asked.
func (r *Registry) Require(name string, c backend.Capability) (string, backend.Kind, error) {
	name, kind, err := r.Resolve(name)
	if err != nil {
		return "", "", err
	}
	if k, ok := KindOf(kind); !ok || !k.Supports(c) {
		return name, kind, fmt.Errorf("endpoint %q is of type %s, which does not support %s; use an endpoint of type %s", name, kind, c, kindsSupporting(c))
	}
	return name, kind, nil
}

// Family is the image-setting family of the endpoint's kind ("incus" for incus and
// lxd), empty when the name does not resolve.
func (r *Registry) Family(name string) string {
	_, kind, err := r.Resolve(name)
	if err != nil {
		return ""
	}
	return kinds[kind].Family
}

// Get connects the endpoint on first use and returns it. Every caller shares the one
// connection and its outcome; a caller whose context ends first stops waiting
// without affecting the connection.
func (r *Registry) Get(ctx context.Context, name string) (*Endpoint, error) {
	name, kind, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	if unknown := r.configs[name].Unknown; len(unknown) > 0 {
		return nil, &UnknownConfigError{Endpoint: name, Kind: kind, Settings: unknown}
	}
	r.mu.Lock()
	cn, ok := r.conns[name]
	if !ok {
		cn = &conn{done: make(chan struct{})}
		r.conns[name] = cn
		go cn.connect(ctx, kinds[kind].Connect, r.configs[name])
	}
	r.mu.Unlock()
	select {
	case <-cn.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("connecting to endpoint %q (%s): %w", name, kind, backend.Interrupted(ctx))
	}
	if cn.err != nil {
		return nil, fmt.Errorf("connecting to endpoint %q (%s): %w", name, kind, cn.err)
	}
	return cn.ep, nil
}

// connect keeps ctx's values (loggers) but not its cancellation, and bounds the
// connection by connectTimeout instead.
func (cn *conn) connect(ctx context.Context, connector Connector, cfg Config) {
	defer close(cn.done)
	if connector == nil {
		cn.err = unknownKind(cfg.Kind)
		return
	}
	ctx, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), connectTimeout,
		fmt.Errorf("%w: no answer within %s", backend.ErrUnreachable, connectTimeout))
	defer cancel()
	cn.ep, cn.err = connector(ctx, cfg)
}
