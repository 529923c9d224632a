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

// refreshJSONServer sends what ReadResource and ReadDataSource return as JSON, not
// msgpack.
//
// Terraform before 1.15 decides whether a refresh changed anything with
// reflect.DeepEqual on its state objects and root outputs, cached values included,
// and a number decoded from msgpack (64-bit big.Float) never deep-equals the same
// number decoded from the state file's JSON (512-bit). Every resource with a number
// attribute, and every output holding a number read by a data source, then makes
// `terraform plan -refresh-only -detailed-exitcode` exit 2 while printing "No
// changes" (hashicorp/terraform#37406). Values sent as JSON are decoded the same way
// as the state file, so unchanged ones compare equal.
type refreshJSONServer struct {
	tfprotov6.ProviderServer

	once        sync.Once
	resources   map[string]tftypes.Type
	dataSources map[string]tftypes.Type
}

func (s *refreshJSONServer) loadTypes(ctx context.Context) {
	s.once.Do(func() {
		s.resources, s.dataSources = map[string]tftypes.Type{}, map[string]tftypes.Type{}
		resp, err := s.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
		if err != nil || resp == nil {
			return
		}
		for n, sch := range resp.ResourceSchemas {
			s.resources[n] = sch.ValueType()
		}
		for n, sch := range resp.DataSourceSchemas {
			s.dataSources[n] = sch.ValueType()
		}
	})
}

func (s *refreshJSONServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	resp, err := s.ProviderServer.ReadResource(ctx, req)
	if err == nil && resp != nil {
		s.loadTypes(ctx)
		resp.NewState = asJSON(resp.NewState, s.resources[req.TypeName])
	}
	return resp, err
}

func (s *refreshJSONServer) ReadDataSource(ctx context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	resp, err := s.ProviderServer.ReadDataSource(ctx, req)
	if err == nil && resp != nil {
		s.loadTypes(ctx)
		resp.State = asJSON(resp.State, s.dataSources[req.TypeName])
	}
	return resp, err
}

// asJSON re-encodes a msgpack value of type typ as JSON; anything it cannot encode
// (no type, unknown or dynamic values) is returned as it was.
func asJSON(v *tfprotov6.DynamicValue, typ tftypes.Type) *tfprotov6.DynamicValue {
	if v == nil || len(v.MsgPack) == 0 || typ == nil {
		return v
	}
	val, err := v.Unmarshal(typ)
	if err != nil {
		return v
	}
	var buf bytes.Buffer
	if writeJSON(&buf, val) != nil {
		return v
	}
	return &tfprotov6.DynamicValue{JSON: buf.Bytes()}
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
