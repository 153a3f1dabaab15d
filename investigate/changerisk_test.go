package investigate

import "testing"

func TestChangeRisk(t *testing.T) {
	for _, tt := range []struct {
		name   string
		ch     Change
		wantLE float64
		wantGE float64
	}{
		{"monitoring interval only", Change{Event: "ModifyDBInstance", Params: map[string]string{
			"dBInstanceIdentifier": "db", "applyImmediately": "true", "monitoringInterval": "60", "monitoringRoleArn": "arn:aws:iam::1:role/m"}}, 0.2, 0},
		{"backup window", Change{Event: "ModifyDBCluster", Params: map[string]string{"dBClusterIdentifier": "c", "backupRetentionPeriod": "14"}}, 0.2, 0},
		{"instance class", Change{Event: "ModifyDBInstance", Params: map[string]string{"dBInstanceIdentifier": "db", "dBInstanceClass": "db.t3.small"}}, 1, 1},
		{"monitoring and class", Change{Event: "ModifyDBInstance", Params: map[string]string{"monitoringInterval": "60", "dBInstanceClass": "db.t3.small"}}, 1, 1},
		{"no parameters", Change{Event: "ModifyDBInstance"}, 1, 1},
		{"identifiers only", Change{Event: "ModifyDBInstance", Params: map[string]string{"dBInstanceIdentifier": "db"}}, 1, 1},
		{"a put is not a modification", Change{Event: "PutResourcePolicy", Params: map[string]string{"tags": "x"}}, 1, 1},
	} {
		got := changeRisk(tt.ch)
		if got > tt.wantLE || got < tt.wantGE {
			t.Errorf("%s: changeRisk = %.2f, want in [%.2f, %.2f]", tt.name, got, tt.wantGE, tt.wantLE)
		}
	}
}

func TestDBMoved(t *testing.T) {
	for _, tt := range []struct {
		ch   Change
		want bool
	}{
		{Change{Event: "RDSFailover", Message: "Multi-AZ instance failover started."}, true},
		{Change{Event: "FailoverDBCluster"}, true},
		{Change{Event: "RDSMaintenance", Message: "Applying off-line patches to DB instance"}, true},
		{Change{Event: "RDSConfigurationChange", Message: "Monitoring Interval changed to 60"}, false},
		{Change{Event: "RDSNotification", Message: "Backup retention changed"}, false},
	} {
		if got := dbMoved(tt.ch); got != tt.want {
			t.Errorf("dbMoved(%s %q) = %v, want %v", tt.ch.Event, tt.ch.Message, got, tt.want)
		}
	}
}
