package investigate

import "testing"

func TestEventWords(t *testing.T) {
	for _, tt := range []struct{ event, want string }{
		{"UpdateFunctionCode20150331v2", "deployed new code (UpdateFunctionCode20150331v2)"},
		{"UpdateFunctionConfiguration20150331v2", "changed the function's configuration (UpdateFunctionConfiguration20150331v2)"},
		{"PutResourcePolicy", "replaced the resource policy (PutResourcePolicy)"},
		{"RevokeSecurityGroupIngress", "removed an inbound security-group rule (RevokeSecurityGroupIngress)"},
		{"ModifyTargetGroupAttributes", "changed the target group's settings (ModifyTargetGroupAttributes)"},
		// A name that only starts like a known one is not it.
		{"CreateDeploymentGroup", "deployed (CreateDeploymentGroup)"},
		{"PutParameterPolicy", "PutParameterPolicy"},
		{"SomeNewEvent", "SomeNewEvent"},
	} {
		if got := EventWords(tt.event); got != tt.want {
			t.Errorf("EventWords(%q) = %q, want %q", tt.event, got, tt.want)
		}
	}
}
