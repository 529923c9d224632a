package incus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// apiInstance is GET /1.0/instances/{name}?recursion=1 (instance_get_full): the
// instance and its state in one request, so a refresh costs one call.
type apiInstance struct {
	Name        string                       `json:"name"`
	Project     string                       `json:"project"`
	Description string                       `json:"description"`
	Type        string                       `json:"type"`
	Status      string                       `json:"status"`
	Location    string                       `json:"location"`
	Profiles    []string                     `json:"profiles"`
	Ephemeral   bool                         `json:"ephemeral"`
	Config      map[string]string            `json:"config"`
	Expanded    map[string]string            `json:"expanded_config"`
	Devices     map[string]map[string]string `json:"devices"`
	CreatedAt   time.Time                    `json:"created_at"`
	LastUsedAt  time.Time                    `json:"last_used_at"`
	State       *struct {
		Network map[string]struct {
			Hwaddr    string `json:"hwaddr"`
			Addresses []struct {
				Family  string `json:"family"`
				Address string `json:"address"`
				Scope   string `json:"scope"`
			} `json:"addresses"`
		} `json:"network"`
	} `json:"state"`
}

// apiInstancePut is what PUT /1.0/instances/{name} replaces.
type apiInstancePut struct {
	Description string                       `json:"description"`
	Profiles    []string                     `json:"profiles"`
	Config      map[string]string            `json:"config"`
	Devices     map[string]map[string]string `json:"devices"`
	Ephemeral   bool                         `json:"ephemeral"`
}

func (a *apiInstance) toBackend() *backend.Instance {
	// A mark left by a create that did not finish is not the user's config.
	delete(a.Config, creationKey)
	delete(a.Expanded, creationKey)
	in := &backend.Instance{
		Name: a.Name, Project: a.Project, Description: a.Description, Type: a.Type, Status: a.Status,
		Location: a.Location, Profiles: a.Profiles, Ephemeral: a.Ephemeral, Config: a.Config,
		ExpandedConfig: a.Expanded, Devices: a.Devices, CreatedAt: a.CreatedAt, LastUsedAt: a.LastUsedAt,
	}
	if a.State == nil {
		return in
	}
	// The first interface other than loopback that has addresses, in name order so
	// the choice is stable (eth0 before eth1).
	var names []string
	for n := range a.State.Network {
		if n != "lo" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		nic := a.State.Network[n]
		if in.MAC == "" {
			in.MAC = nic.Hwaddr
		}
		for _, ad := range nic.Addresses {
			switch {
			case ad.Scope != "global":
			case ad.Family == "inet" && in.IPv4 == "":
				in.IPv4 = ad.Address
			case ad.Family == "inet6" && in.IPv6 == "":
				in.IPv6 = ad.Address
			}
		}
	}
	return in
}

func instancePath(name string, rest ...string) string {
	return "/1.0/instances/" + url.PathEscape(name) + strings.Join(rest, "")
}

// fingerprintLike is what the servers accept as a fingerprint or a prefix of one.
var fingerprintLike = regexp.MustCompile(`^[0-9a-f]{12,64}$`)

// creationKey marks an instance while CreateInstance makes it: the Mark of its
// backend.Creation, in the config the create sends, so that the instance bears it
// from the moment it exists, whether or not an answer comes back. It is removed once
// the create's operation ended (or, with KeepMark, by FinishCreate), and hidden from
// reads meanwhile.
const creationKey = "user.imagefleet.creation"

// CreateInstance creates the instance, stopped, and waits for it. Errors before the
// server accepted the request, and a name that is taken, are backend.NotCreated.
//
// An instance that bears the mark of this create (its answer was lost, or a
// gateway answered in the server's place) is adopted: once the operations on it have
// ended it is stopped if need be, as a create leaves it. One that bears the mark of
// the same create in an interrupted run (the same name on the same server) is
// deleted and made anew. An instance of that name without such a mark is someone
// else's: the name is taken.
func (c *Client) CreateInstance(ctx context.Context, spec backend.InstanceCreate) error {
	// The name is what an instance is on its server: a later run's create of the
	// same name derives the same token.
	cr := backend.NewCreation(string(c.cfg.Kind), c.endpoint, c.projectName(spec.InstanceRef), "instance", spec.Name)
	err := c.createInstance(ctx, spec, cr)
	if conflict(err) {
		// A repeat of this create's request may have found the first one's instance.
		cur, _, gerr := c.rawInstance(ctx, spec.InstanceRef)
		if gerr != nil || !cr.Mine(cur.Config[creationKey]) {
			var api *backend.APIError
			errors.As(err, &api)
			return backend.NotCreated(backend.NewAPIError(api.Method, api.URL, http.StatusConflict, api.Msg))
		}
		err = c.adoptInstance(ctx, spec.InstanceRef)
	}
	if err == nil && spec.KeepMark {
		// Still being made until FinishCreate: another create of the name meanwhile
		// must not take the instance for an interrupted run's.
		c.making.Store(c.makingKey(spec.InstanceRef), cr)
		return nil
	}
	defer cr.Done()
	if err != nil {
		return err
	}
	return c.FinishCreate(ctx, spec.InstanceRef)
}

func (c *Client) makingKey(ref backend.InstanceRef) string {
	return c.projectName(ref) + "/" + ref.Name
}

// conflict reports whether err is the create's operation finding the name taken:
// Incus reports it as a database constraint, LXD as "already exists".
func conflict(err error) bool {
	var api *backend.APIError
	return errors.As(err, &api) && api.Method == "operation" && (errors.Is(err, backend.ErrConflict) || strings.Contains(api.Msg, "UNIQUE constraint failed: instances."))
}

func (c *Client) createInstance(ctx context.Context, spec backend.InstanceCreate, cr *backend.Creation) error {
	// Asked first, so a name that is taken is told apart from an instance this call
	// left behind.
	cur, _, err := c.rawInstance(ctx, spec.InstanceRef)
	if err == nil && cr.Orphan(cur.Config[creationKey]) {
		// An interrupted run's instance: its files, state and commands may be half
		// done, and what it was made from may not be what is asked now. It is ours
		// to make anew.
		tflog.Info(ctx, "deleting the unfinished instance an interrupted run left", map[string]any{"instance": spec.Name})
		derr := c.settleInstance(ctx, spec.InstanceRef)
		if derr == nil {
			derr = c.DeleteInstance(ctx, spec.InstanceRef)
		}
		if derr != nil && !errors.Is(derr, backend.ErrNotFound) {
			return backend.NotCreated(fmt.Errorf("deleting instance %q, which an interrupted run left unfinished: %w", spec.Name, derr))
		}
		err = backend.ErrNotFound
	}
	switch {
	case err == nil:
		return backend.NotCreated(fmt.Errorf("an instance named %q already exists in project %q: %w", spec.Name, c.projectName(spec.InstanceRef), backend.ErrConflict))
	case !errors.Is(err, backend.ErrNotFound):
		return backend.NotCreated(err)
	}
	source := map[string]any{"type": "image"}
	switch {
	case spec.Remote != nil:
		source["mode"], source["server"], source["protocol"], source["certificate"] = "pull", spec.Remote.Server, spec.Remote.Protocol, spec.Remote.Certificate
		if fingerprintLike.MatchString(spec.Image) && len(spec.Image) == 64 {
			source["fingerprint"] = spec.Image
		} else {
			source["alias"] = spec.Image
		}
	default:
		// A local alias wins over a fingerprint prefix that happens to look alike.
		a, err := c.GetAlias(ctx, spec.Image)
		switch {
		case err == nil:
			source["alias"] = a.Name
		case !errors.Is(err, backend.ErrNotFound):
			return backend.NotCreated(err)
		default:
			img, err := c.GetImage(ctx, spec.Image)
			if errors.Is(err, backend.ErrNotFound) {
				return backend.NotCreated(fmt.Errorf("image %q: the endpoint has no alias of that name and no image whose fingerprint starts so: %w", spec.Image, err))
			}
			if err != nil {
				return backend.NotCreated(err)
			}
			source["fingerprint"] = img.Fingerprint
		}
	}
	config := maps.Clone(spec.Config)
	if config == nil {
		config = map[string]string{}
	}
	config[creationKey] = cr.Mark()
	body := map[string]any{
		"name": spec.Name, "type": spec.Type, "description": spec.Description, "config": config,
		"devices": spec.Devices, "ephemeral": spec.Ephemeral, "source": source,
	}
	if spec.Profiles != nil {
		body["profiles"] = spec.Profiles
	}
	path := "/1.0/instances"
	if spec.Target != "" {
		path += "?target=" + url.QueryEscape(spec.Target)
	}
	reqCtx, sent, done := backend.OutliveRequest(ctx)
	defer done()
	r, err := c.doIn(reqCtx, c.project(spec.InstanceRef), http.MethodPost, path, body, nil)
	_, gateway := fromGateway(err)
	var api *backend.APIError
	switch {
	case errors.As(err, &api) && !gateway:
		// Refused outright: no operation was started.
		return backend.NotCreated(err)
	case err != nil && ctx.Err() != nil && !sent():
		return backend.NotCreated(fmt.Errorf("creating the instance on %s was stopped before the request went out: %w", c.endpoint, backend.Interrupted(ctx)))
	case err != nil && ctx.Err() != nil:
		return err
	case err != nil:
		return c.recoverInstance(ctx, spec.InstanceRef, cr, err)
	}
	if _, err = c.wait(ctx, r); err != nil && !errors.As(err, &api) && ctx.Err() != nil {
		return c.abandonInstanceCreate(ctx, r)
	}
	return err
}

// recoverInstance finds the instance a create whose answer was lost (cause) made,
// once the operations on its name have ended.
func (c *Client) recoverInstance(ctx context.Context, ref backend.InstanceRef, cr *backend.Creation, cause error) error {
	if err := c.settleInstance(ctx, ref); err != nil {
		return fmt.Errorf("%w; waiting for the operations on instance %q failed: %w", cause, ref.Name, err)
	}
	cur, _, err := c.rawInstance(ctx, ref)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		return backend.NotCreated(fmt.Errorf("%w; %s created no instance %q", cause, c.endpoint, ref.Name))
	case err != nil:
		return fmt.Errorf("%w; reading instance %q failed: %w", cause, ref.Name, err)
	case !cr.Mine(cur.Config[creationKey]):
		return backend.NotCreated(fmt.Errorf("%w; an instance named %q was created meanwhile by someone else: %w", cause, ref.Name, backend.ErrConflict))
	}
	return c.adoptInstance(ctx, ref)
}

// adoptInstance takes over an instance that bears a mark of this create: once the
// operations on it ended (its create, maybe a start), it is stopped if it runs, as
// CreateInstance leaves an instance.
func (c *Client) adoptInstance(ctx context.Context, ref backend.InstanceRef) error {
	if err := c.settleInstance(ctx, ref); err != nil {
		return err
	}
	tflog.Info(ctx, "adopting the instance that this create or an interrupted run of it made", map[string]any{"instance": ref.Name})
	cur, _, err := c.rawInstance(ctx, ref)
	if err != nil {
		return err
	}
	if cur.Status != "Stopped" {
		if err := c.ChangeState(ctx, ref, backend.StateChange{Action: "stop", Force: true}); err != nil {
			return fmt.Errorf("stopping instance %q, found %s, to finish its create: %w", ref.Name, cur.Status, err)
		}
	}
	return nil
}

// settleInstance waits until no operation on the instance runs.
func (c *Client) settleInstance(ctx context.Context, ref backend.InstanceRef) error {
	path := instancePath(ref.Name)
	for {
		ran, err := c.waitRunning(ctx, c.project(ref), func(op listedOperation) bool { return touches(op, "instances", path) })
		if err != nil || !ran {
			return err
		}
	}
}

// FinishCreate removes the creation mark from the instance's config.
func (c *Client) FinishCreate(ctx context.Context, ref backend.InstanceRef) error {
	if v, ok := c.making.LoadAndDelete(c.makingKey(ref)); ok {
		if cr, ok := v.(*backend.Creation); ok {
			defer cr.Done()
		}
	}
	cur, etag, err := c.rawInstance(ctx, ref)
	if err != nil {
		return fmt.Errorf("removing the creation mark of instance %q: %w", ref.Name, err)
	}
	if _, ok := cur.Config[creationKey]; !ok {
		return nil
	}
	delete(cur.Config, creationKey)
	put := apiInstancePut{Description: cur.Description, Profiles: cur.Profiles, Config: cur.Config, Devices: cur.Devices, Ephemeral: cur.Ephemeral}
	if err := c.putInstance(ctx, ref, etag, put); err != nil {
		return fmt.Errorf("removing the creation mark of instance %q: %w", ref.Name, err)
	}
	return nil
}

// rawInstance reads the instance as the API has it, mark included, and its ETag.
func (c *Client) rawInstance(ctx context.Context, ref backend.InstanceRef) (*apiInstance, string, error) {
	var a apiInstance
	r, err := c.doIn(ctx, c.project(ref), http.MethodGet, instancePath(ref.Name), nil, &a)
	if err != nil {
		return nil, "", err
	}
	return &a, r.etag, nil
}

// abandonInstanceCreate is called when ctx ended while the server was creating an
// instance. Until the operation ends nothing tells whether it leaves an instance (a
// pull downloads the image before the instance exists), so it asks the server to
// cancel the operation (both daemons refuse for instance creation) and waits for it
// to end with a detached, bounded context. The error wraps ctx's cause and is not
// NotCreated: once the operation has ended, the caller's check for the instance is
// reliable. The instance did not exist before (createInstance asked first), so it is
// the caller's to record, not someone else's.
func (c *Client) abandonInstanceCreate(ctx context.Context, r *response) error {
	stopped := backend.Interrupted(ctx)
	cctx, cancel := backend.AfterInterruption(ctx)
	defer cancel()
	opPath := operationPath(r)
	_, cancelled, err := c.cancelAndWait(cctx, r)
	var failed *backend.APIError
	ended := errors.As(err, &failed) && failed.Method == "operation"
	switch {
	case err == nil:
		return fmt.Errorf("creating the instance on %s was interrupted (%w); operation %s went on and finished", c.endpoint, stopped, opPath)
	case ended && cancelled:
		return fmt.Errorf("creating the instance on %s was interrupted (%w); the server cancelled operation %s", c.endpoint, stopped, opPath)
	case ended:
		// Wrapped, so that a name taken meanwhile still reads as one.
		return fmt.Errorf("creating the instance on %s was interrupted (%w); operation %s failed: %w", c.endpoint, stopped, opPath, err)
	case errors.Is(err, backend.ErrNotFound):
		// The servers forget an operation a few seconds after it ends.
		return fmt.Errorf("creating the instance on %s was interrupted (%w); operation %s had already ended", c.endpoint, stopped, opPath)
	}
	return fmt.Errorf("creating the instance on %s was interrupted (%w); operation %s did not end within %s (%v), and may still create the instance", c.endpoint, stopped, opPath, backend.CleanupTimeout, err)
}

// DefaultProject is the endpoint's project; the server's own default when the
// endpoint names none.
func (c *Client) DefaultProject() string {
	if c.cfg.Project == "" {
		return "default"
	}
	return c.cfg.Project
}

// ImageSource reads the update_source the daemon records on the image it pulled
// (and caches) to create an instance from an image server.
func (c *Client) ImageSource(ctx context.Context, ref backend.InstanceRef, fingerprint string) (*backend.RemoteImage, error) {
	var img struct {
		Cached bool `json:"cached"`
		Source *struct {
			Server      string `json:"server"`
			Protocol    string `json:"protocol"`
			Alias       string `json:"alias"`
			Certificate string `json:"certificate"`
		} `json:"update_source"`
	}
	_, err := c.doIn(ctx, c.project(ref), http.MethodGet, "/1.0/images/"+url.PathEscape(fingerprint), nil, &img)
	switch {
	case err != nil:
		return nil, err
	case !img.Cached || img.Source == nil || img.Source.Server == "":
		// An image pulled on purpose (not cached) is managed in its own right.
		return nil, nil
	}
	return &backend.RemoteImage{Server: img.Source.Server, Protocol: img.Source.Protocol, Alias: img.Source.Alias, Certificate: img.Source.Certificate}, nil
}

func (c *Client) project(ref backend.InstanceRef) string {
	if ref.Project != "" {
		return ref.Project
	}
	return c.cfg.Project
}

// projectName is the project ref is in, as users know it: "default" when neither the
// object nor the endpoint names one.
func (c *Client) projectName(ref backend.InstanceRef) string {
	if ref.Project != "" {
		return ref.Project
	}
	return c.DefaultProject()
}

// GetInstance reads the instance and its state in one request.
func (c *Client) GetInstance(ctx context.Context, ref backend.InstanceRef) (*backend.Instance, error) {
	var a apiInstance
	if _, err := c.doIn(ctx, c.project(ref), http.MethodGet, instancePath(ref.Name, "?recursion=1"), nil, &a); err != nil {
		return nil, err
	}
	return a.toBackend(), nil
}

// serverOwned reports config keys the server sets for itself.
func serverOwned(key string) bool {
	return strings.HasPrefix(key, "volatile.") || strings.HasPrefix(key, "image.")
}

// UpdateInstance replaces what the user manages, keeping the server's own keys. A
// creation mark is not kept: an instance being updated is recorded.
func (c *Client) UpdateInstance(ctx context.Context, ref backend.InstanceRef, spec backend.InstanceSpec) error {
	cur, etag, err := c.rawInstance(ctx, ref)
	if err != nil {
		return err
	}
	config := map[string]string{}
	for k, v := range cur.Config {
		if serverOwned(k) {
			config[k] = v
		}
	}
	for k, v := range spec.Config {
		config[k] = v
	}
	put := apiInstancePut{Description: spec.Description, Profiles: spec.Profiles, Config: config, Devices: spec.Devices, Ephemeral: spec.Ephemeral}
	return c.putInstance(ctx, ref, etag, put)
}

// putInstance replaces what PUT /1.0/instances/{name} replaces, only if the instance
// is still as read (its ETag), and waits.
func (c *Client) putInstance(ctx context.Context, ref backend.InstanceRef, etag string, put apiInstancePut) error {
	req, err := c.jsonRequest(ctx, http.MethodPut, c.urlIn(c.project(ref), instancePath(ref.Name)), put)
	if err != nil {
		return err
	}
	if etag != "" {
		req.Header.Set("If-Match", etag)
	}
	resp, err := c.finish(req, nil, c.http.Do)
	if err != nil {
		return err
	}
	_, err = c.wait(ctx, resp)
	return err
}

// ChangeState starts, stops, restarts, freezes or unfreezes the instance and waits.
func (c *Client) ChangeState(ctx context.Context, ref backend.InstanceRef, ch backend.StateChange) error {
	body := map[string]any{"action": ch.Action, "force": ch.Force}
	if ch.Timeout > 0 {
		body["timeout"] = int(ch.Timeout.Seconds())
	}
	r, err := c.doIn(ctx, c.project(ref), http.MethodPut, instancePath(ref.Name, "/state"), body, nil)
	if err != nil {
		return err
	}
	_, err = c.wait(ctx, r)
	return err
}

// DeleteInstance deletes a stopped instance and waits until it is gone.
func (c *Client) DeleteInstance(ctx context.Context, ref backend.InstanceRef) error {
	r, err := c.doIn(ctx, c.project(ref), http.MethodDelete, instancePath(ref.Name), nil, nil)
	if err != nil {
		return err
	}
	_, err = c.wait(ctx, r)
	return err
}

// PushFile writes a file into the instance, replacing what is there.
func (c *Client) PushFile(ctx context.Context, ref backend.InstanceRef, f backend.File) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		c.urlIn(c.project(ref), instancePath(ref.Name, "/files?path="+url.QueryEscape(f.Path))), f.Content)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(c.header("uid"), fmt.Sprint(f.UID))
	req.Header.Set(c.header("gid"), fmt.Sprint(f.GID))
	req.Header.Set(c.header("mode"), fmt.Sprintf("%04o", f.Mode))
	req.Header.Set(c.header("type"), "file")
	req.Header.Set(c.header("write"), "overwrite")
	_, err = c.finish(req, nil, c.http.Stream)
	return err
}

// Exec runs a command without a terminal, the server recording its output, waits for
// it and fetches stdout and stderr.
func (c *Client) Exec(ctx context.Context, ref backend.InstanceRef, e backend.Exec) (*backend.ExecResult, error) {
	project := c.project(ref)
	r, err := c.doIn(ctx, project, http.MethodPost, instancePath(ref.Name, "/exec"), map[string]any{
		"command": e.Command, "environment": e.Environment, "wait-for-websocket": false,
		"record-output": true, "interactive": false,
	}, nil)
	if err != nil {
		return nil, err
	}
	op, err := c.wait(ctx, r)
	if err != nil {
		return nil, err
	}
	code, ok := op.Metadata["return"].(float64)
	if !ok {
		return nil, fmt.Errorf("%s did not report the exit code of %q", c.endpoint, strings.Join(e.Command, " "))
	}
	res := &backend.ExecResult{ExitCode: int(code)}
	outputs, _ := op.Metadata["output"].(map[string]any)
	for fd, dst := range map[string]*string{"1": &res.Stdout, "2": &res.Stderr} {
		p, _ := outputs[fd].(string)
		if p == "" {
			continue
		}
		if *dst, err = c.raw(ctx, project, p); err != nil {
			return nil, err
		}
		// The logs are only for this call; leaving them would fill the instance's log dir.
		_, _ = c.doIn(ctx, project, http.MethodDelete, strings.SplitN(p, "?", 2)[0], nil, nil)
	}
	return res, nil
}

// maxOutput caps what is kept of a command's output: state is no place for logs.
const maxOutput = 1 << 20

// raw fetches a non-JSON resource, such as a log file.
func (c *Client) raw(ctx context.Context, project, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.urlIn(project, path), nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", c.sendError(req, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", c.failed(req, resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	return string(b), err
}
