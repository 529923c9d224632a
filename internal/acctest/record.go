package acctest

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-testing/statecheck"
)

// Record is a state check that copies a resource's string attribute into *into. It
// works on instances of for_each resources, which the legacy Check functions cannot
// address.
func Record(address, attribute string, into *string) statecheck.StateCheck {
	return recordCheck{address, attribute, into}
}

type recordCheck struct {
	address, attribute string
	into               *string
}

func (c recordCheck) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil || req.State.Values == nil || req.State.Values.RootModule == nil {
		resp.Error = fmt.Errorf("no state to read %s.%s from", c.address, c.attribute)
		return
	}
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address != c.address {
			continue
		}
		v, ok := r.AttributeValues[c.attribute].(string)
		if !ok {
			resp.Error = fmt.Errorf("%s.%s is not a string: %v", c.address, c.attribute, r.AttributeValues[c.attribute])
			return
		}
		*c.into = v
		return
	}
	resp.Error = fmt.Errorf("%s is not in the state", c.address)
}
