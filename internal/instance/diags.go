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

func importDiag(id string) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Invalid import ID", fmt.Sprintf("%q is not [endpoint:][project/]name.", id))
}

func fileDiag(i int, err error) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("files").AtListIndex(i), "Unreadable file source", err.Error()+".")
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
