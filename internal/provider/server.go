package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// NewServer is the provider's protocol 6 server, as main serves it and the acceptance
// tests run it.
func NewServer(version string) func() tfprotov6.ProviderServer {
	return func() tfprotov6.ProviderServer {
		return &refreshJSONServer{ProviderServer: providerserver.NewProtocol6(New(version)())()}
	}
}

// refreshJSONServer sends the state ReadResource refreshes as JSON, not msgpack.
//
// Terraform before 1.15 decides whether a refresh changed anything with
// reflect.DeepEqual on its state objects, cached values included, and a number
// decoded from msgpack (64-bit big.Float) never deep-equals the same number decoded
// from the state file's JSON (512-bit). Every resource with a number attribute then
// makes `terraform plan -refresh-only -detailed-exitcode` exit 2 while printing "No
// changes" (hashicorp/terraform#37406). Refreshed state sent as JSON is decoded the
// same way as the state file, so an unchanged object compares equal.
type refreshJSONServer struct {
	tfprotov6.ProviderServer

	once  sync.Once
	types map[string]tftypes.Type
}

func (s *refreshJSONServer) resourceType(ctx context.Context, name string) (tftypes.Type, bool) {
	s.once.Do(func() {
		s.types = map[string]tftypes.Type{}
		resp, err := s.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
		if err != nil || resp == nil {
			return
		}
		for n, sch := range resp.ResourceSchemas {
			s.types[n] = sch.ValueType()
		}
	})
	t, ok := s.types[name]
	return t, ok
}

func (s *refreshJSONServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	resp, err := s.ProviderServer.ReadResource(ctx, req)
	if err != nil || resp == nil || resp.NewState == nil || len(resp.NewState.MsgPack) == 0 {
		return resp, err
	}
	typ, ok := s.resourceType(ctx, req.TypeName)
	if !ok {
		return resp, err
	}
	val, uerr := resp.NewState.Unmarshal(typ)
	if uerr != nil {
		return resp, err
	}
	var buf bytes.Buffer
	if writeJSON(&buf, val) == nil {
		resp.NewState = &tfprotov6.DynamicValue{JSON: buf.Bytes()}
	}
	return resp, err
}

// writeJSON encodes a wholly known value as Terraform's own JSON state encoding does;
// it refuses unknown and dynamic values, which then stay msgpack.
func writeJSON(buf *bytes.Buffer, v tftypes.Value) error {
	if !v.IsKnown() {
		return fmt.Errorf("unknown value")
	}
	if v.IsNull() {
		buf.WriteString("null")
		return nil
	}
	typ := v.Type()
	switch {
	case typ.Is(tftypes.String):
		var s string
		if err := v.As(&s); err != nil {
			return err
		}
		b, _ := json.Marshal(s)
		buf.Write(b)
	case typ.Is(tftypes.Bool):
		var b bool
		if err := v.As(&b); err != nil {
			return err
		}
		fmt.Fprintf(buf, "%t", b)
	case typ.Is(tftypes.Number):
		f := new(big.Float)
		if err := v.As(&f); err != nil {
			return err
		}
		if f.IsInf() {
			return fmt.Errorf("infinite number")
		}
		buf.WriteString(f.Text('f', -1))
	case typ.Is(tftypes.List{}), typ.Is(tftypes.Set{}), typ.Is(tftypes.Tuple{}):
		var elems []tftypes.Value
		if err := v.As(&elems); err != nil {
			return err
		}
		buf.WriteByte('[')
		for i, e := range elems {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case typ.Is(tftypes.Map{}), typ.Is(tftypes.Object{}):
		var m map[string]tftypes.Value
		if err := v.As(&m); err != nil {
			return err
		}
		buf.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(m)) {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			if err := writeJSON(buf, m[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("type %s is not encoded here", typ)
	}
	return nil
}
