package instance

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/imagefleet/terraform-provider-imagefleet/internal/backend"
)

// This file is where the package's diagnostics are made.

func apiDiag(action, endpoint, name string, err error) diag.Diagnostic {
	return diag.NewErrorDiagnostic(fmt.Sprintf("Could not %s instance", action),
		strings.TrimSpace(fmt.Sprintf("Endpoint %q, instance %q: %s. %s", endpoint, name, err, backend.Advice(err))))
}

// markDiag is a warning: the instance is complete, and the mark left on it is
// hidden; it only matters to a later create of the same name.
func markDiag(endpoint, name string, err error) diag.Diagnostic {
	return diag.NewWarningDiagnostic("Instance creation mark left",
		fmt.Sprintf("Endpoint %q, instance %q: the instance is created, but removing its creation mark (config key user.imagefleet.creation) failed: %s. "+
			"It is hidden and harmless; remove it with the server's CLI (config unset) if you like.", endpoint, name, err))
}

func importDiag(id string) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Invalid import ID",
		fmt.Sprintf("%q is not [endpoint:][project/]name: give the instance's name (a host name: letters, digits and '-', starting with a letter), "+
			"optionally after its project and a slash, and an endpoint name and a colon, such as local:default/web1.", id))
}

func fileDiag(i int, err error) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("files").AtListIndex(i), "Unreadable file source", strings.TrimSpace(err.Error()+". "+backend.Advice(err)))
}

// notFoundDiag reports an instance the data source looks for in vain; project is
// empty for the endpoint's own.
func notFoundDiag(endpoint, project, name string) diag.Diagnostic {
	where := "in the endpoint's project"
	if project != "" {
		where = fmt.Sprintf("in project %q", project)
	}
	return diag.NewAttributeErrorDiagnostic(path.Root("name"), "Instance not found",
		fmt.Sprintf("Endpoint %q has no instance %q %s. Check the name, and set project if the instance is in another one. "+
			"If this configuration makes the instance, refer to that resource (name = imagefleet_instance.<name>.name) instead of writing the name, so that it is read once it exists.",
			endpoint, name, where))
}

func execNeedsRunningDiag(state string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("exec"), "Commands need a running instance",
		fmt.Sprintf("exec runs commands in the instance, but state is %q: set state = \"running\", or remove exec.", state))
}

func execFailedDiag(endpoint, name string, command []string, res *backend.ExecResult) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Command failed in instance",
		fmt.Sprintf("Endpoint %q, instance %q: %q exited with %d. stderr: %s Set allow_failure = true on the exec entry to accept a non-zero exit.",
			endpoint, name, strings.Join(command, " "), res.ExitCode, strings.TrimSpace(res.Stderr)))
}

func imageChangedDiag(endpoint, image string, err error) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("image"), "Could not resolve image",
		fmt.Sprintf("Endpoint %q: image %q: %s.", endpoint, image, err))
}

func leftoverRecordedDiag(endpoint, name string) diag.Diagnostic {
	return diag.NewWarningDiagnostic("Instance recorded as tainted",
		fmt.Sprintf("Endpoint %q, instance %q: the create failed, but the instance exists on the server. It is recorded as tainted: the next apply replaces it.", endpoint, name))
}

func leftoverUnknownDiag(endpoint, name string, err error) diag.Diagnostic {
	return diag.NewWarningDiagnostic("Instance may be left on the server",
		fmt.Sprintf("Endpoint %q, instance %q: the create failed, and checking whether it left the instance behind failed too: %s. "+
			"If it exists, import it or delete it before the next apply.", endpoint, name, err))
}
