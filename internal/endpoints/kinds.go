package endpoints

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend/httpclient"
)

// Kind is what one kind of endpoint registers, from an init function in this
// package's file for it: everything the provider and the resources need to know of
// the kind, so that no code elsewhere switches over kinds.
type Kind struct {
	Name backend.Kind
	// Family names the block of imagefleet_image whose settings apply on this
	// kind: "incus" for incus and lxd, else the kind's own name.
	Family       string
	Capabilities []backend.Capability
	// Schema is the kind's block inside an endpoint of the provider's endpoints map.
	Schema schema.SingleNestedAttribute
	// Settings reads a known block (null for the implicit local endpoint) into the
	// value Connect receives in Config.Settings, with the kind's own environment
	// fallbacks. It checks what can be checked without connecting.
	Settings func(ctx context.Context, block types.Object, retry httpclient.Retry) (any, error)
	Connect  Connector
	// DiskFormats are the bare disk image formats the kind takes (Glance's names);
	// IncusTarballs says whether it takes Incus image tarballs. Both are checked
	// at plan time against what a file is.
	DiskFormats   []string
	IncusTarballs bool
	// ReservedProperty, when set, reports image property keys the server owns: they
	// are neither the user's properties nor drift, and setting one is refused.
	ReservedProperty func(key string) bool
}

var kinds = map[backend.Kind]Kind{}

// Register makes a kind of endpoint known to the provider.
func Register(k Kind) { kinds[k.Name] = k }

// Kinds lists the registered kinds by name.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// KindOf returns a registered kind.
func KindOf(name backend.Kind) (Kind, bool) {
	k, ok := kinds[name]
	return k, ok
}

// Supports reports whether the kind can do c.
func (k Kind) Supports(c backend.Capability) bool {
	for _, have := range k.Capabilities {
		if have == c {
			return true
		}
	}
	return false
}

// Families lists the image-setting families of the registered kinds, once each.
func Families() []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range Kinds() {
		if !seen[k.Family] {
			seen[k.Family] = true
			out = append(out, k.Family)
		}
	}
	return out
}

// kindsSupporting names the kinds that can do c, for diagnostics.
func kindsSupporting(c backend.Capability) string {
	var ks []string
	for _, k := range Kinds() {
		if k.Supports(c) {
			ks = append(ks, string(k.Name))
		}
	}
	return strings.Join(ks, " or ")
}

// FamilyKinds names the kinds of some families, for diagnostics: "incus, lxd and
// openstack".
func FamilyKinds(families ...string) string {
	var ks []string
	for _, k := range Kinds() {
		if slices.Contains(families, k.Family) {
			ks = append(ks, string(k.Name))
		}
	}
	if len(ks) < 2 {
		return strings.Join(ks, "")
	}
	return strings.Join(ks[:len(ks)-1], ", ") + " and " + ks[len(ks)-1]
}

func unknownKind(kind backend.Kind) error {
	return fmt.Errorf("endpoint type %s is not available in this provider version", kind)
}

// TakesDisk reports whether the kind takes bare disk images of format.
func (k Kind) TakesDisk(format string) bool {
	for _, f := range k.DiskFormats {
		if f == format {
			return true
		}
	}
	return false
}

// settingsBug reports settings of the wrong type reaching a connector: a bug in the
// provider, never a user error.
func settingsBug(cfg Config) error {
	return fmt.Errorf("endpoint %q (%s) was configured with %T settings: this is a bug in the provider", cfg.Name, cfg.Kind, cfg.Settings)
}
