package awstest

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ALBWorld serves, through the AWS protocols, the incident of
// /work/shared/scenarios/alb-5xx-one-bad-instance.yaml: the web-alb load
// balancer in front of three m5.large instances of web-asg running the
// bot-forge service, which reads the forge-templates table. From 10:30
// bot-forge fails on i-0c5e1a2b3d4f50003 (a missing template file): the
// ALB's target 5XX jump to 800/min, that instance logs 800 error lines a
// minute and its traces fault. Red herrings: traffic crept up 40 minutes
// before, and a security group rule was added two hours before.
type ALBWorld struct {
	// Onset and Fires are the fault's start and the alarm's firing.
	Onset, Fires time.Time
	// Present is when the world answers: GetMetricData counts a
	// datapoint's age from it (awstest.PeriodKept). NewALBWorld sets it to
	// Fires; a client reading the world sets Options.Present to match.
	Present time.Time
	Account string
	// Instances are the load balancer's targets; Bad is the one that fails.
	Instances []string
	Bad       string
	// BasicMonitoring makes the instances publish their AWS/EC2 metrics
	// every 5 minutes, as EC2's basic monitoring does, and say so in
	// DescribeInstances (monitoring state "disabled").
	BasicMonitoring bool
	// MetricPageSize, when positive, is GetMetricData's page size in
	// datapoints for calls that name no MaxDatapoints (AWS: 100,800).
	MetricPageSize int
	// Silent are instances that stopped reporting, and when: from then on
	// GetMetricData has no datapoints of their metrics (it returns only
	// the periods with data), as for a terminated instance.
	Silent map[string]time.Time
	// Tagged are the resources the Tagging API lists (NewALBWorld: the
	// load balancer, its instances and the table, all of the stack
	// StackName); TagPageSize, when positive, is GetResources' page size
	// for calls that name a larger one.
	Tagged      []Tagged
	TagPageSize int
	// Alarms are the metric alarms, as DescribeAlarms carries them
	// (NewALBWorld: ALBAlarm's).
	Alarms []map[string]any

	mu      sync.Mutex
	queries map[string]logQueryState
	nextQID int
}

type logQueryState struct {
	group, query string
	start, end   time.Time
	polls        int
}

// NewALBWorld returns the world at its scenario's times.
func NewALBWorld() *ALBWorld {
	w := &ALBWorld{
		Onset:     time.Date(2024, 12, 3, 10, 30, 0, 0, time.UTC),
		Fires:     time.Date(2024, 12, 3, 10, 33, 0, 0, time.UTC),
		Present:   time.Date(2024, 12, 3, 10, 33, 0, 0, time.UTC),
		Account:   "123456789012",
		Instances: []string{"i-0c5e1a2b3d4f50001", "i-0c5e1a2b3d4f50002", "i-0c5e1a2b3d4f50003"},
		Bad:       "i-0c5e1a2b3d4f50003",
		queries:   map[string]logQueryState{},
	}
	stack := map[string]string{"aws:cloudformation:stack-name": StackName, "Name": "web"}
	w.Tagged = []Tagged{{ARN: LBARN, Tags: map[string]string{"aws:cloudformation:stack-name": StackName}}}
	for _, id := range w.Instances {
		w.Tagged = append(w.Tagged, Tagged{ARN: "arn:aws:ec2:us-east-1:" + w.Account + ":instance/" + id, Tags: stack})
	}
	w.Tagged = append(w.Tagged, Tagged{ARN: "arn:aws:dynamodb:us-east-1:123456789012:table/forge-templates", Tags: map[string]string{"aws:cloudformation:stack-name": StackName}})
	for _, a := range ALBAlarm()["MetricAlarms"].([]any) {
		w.Alarms = append(w.Alarms, a.(map[string]any))
	}
	return w
}

// StackName is the CloudFormation stack of the ALB world's resources.
const StackName = "bot-forge-prod"

// The world's load balancer and target group, and what its bad instance logs.
const (
	LBARN      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/50dc6c495c0c9188"
	tgARN      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067"
	errLine    = "ERROR request %s failed: render reply: open /var/lib/bot-forge/templates/reply.tmpl: no such file or directory"
	ErrPattern = "ERROR request <*> failed: render reply: open /var/lib/bot-forge/templates/reply.tmpl: no such file or directory"
	OKPattern  = "INFO request <*> served in <*> ms"
	Exception  = "open /var/lib/bot-forge/templates/reply.tmpl: no such file or directory"
)

// AZs are the instances' zones, in order, and AZIDs the zones' AZ IDs in
// the world's account (a zone's name maps to a different ID in each
// account; the ID names the same zone everywhere).
var (
	AZs   = []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	AZIDs = []string{"use1-az4", "use1-az6", "use1-az1"}
)

// LBDimension and TGDimension are the load balancer's and the target
// group's CloudWatch dimension values.
const (
	LBDimension = "app/web-alb/50dc6c495c0c9188"
	TGDimension = "targetgroup/web-tg/73e2d6bc24d8a067"
)

// Install registers every handler of the world on a server.
func (w *ALBWorld) Install(srv *Server) {
	// "AlarmNames: The names of the alarms to retrieve information
	// about." "AlarmNamePrefix: An alarm name prefix. If you specify this
	// parameter, you receive information about all alarms that have names
	// that start with this prefix. If this parameter is specified, you
	// cannot specify AlarmNames." (DescribeAlarms, CloudWatch API
	// reference.) Neither lists every alarm, up to MaxRecords.
	srv.Handle("CloudWatch.DescribeAlarms", func(r *Request) any {
		names, _ := r.Params["AlarmNames"].([]any)
		prefix := r.String("AlarmNamePrefix")
		if len(names) > 0 && prefix != "" {
			return &Error{Status: 400, Code: "InvalidParameterCombination", Message: "AlarmNames and AlarmNamePrefix cannot be specified together"}
		}
		limit, _ := r.Params["MaxRecords"].(float64)
		var out []any
		for _, a := range w.Alarms {
			name, _ := a["AlarmName"].(string)
			if (len(names) == 0 || slices.Contains(names, any(name))) && strings.HasPrefix(name, prefix) && (limit == 0 || len(out) < int(limit)) {
				out = append(out, a)
			}
		}
		if len(out) == 0 {
			return map[string]any{}
		}
		return map[string]any{"MetricAlarms": out}
	})
	srv.Handle("CloudWatch.DescribeAlarmsForMetric", func(r *Request) any { return AlarmsForMetric(r, w.Alarms) })
	srv.Handle("Resource Groups Tagging API.GetResources", func(r *Request) any { return GetResources(r, w.Tagged, w.TagPageSize) })
	srv.Handle("CloudWatch.DescribeAlarmHistory", func(r *Request) any {
		items, _ := ALBAlarmHistory()["AlarmHistoryItems"].([]any)
		return AlarmHistory(r, items)
	})
	srv.Handle("CloudWatch.GetMetricData", w.metricData)

	srv.Reply("Elastic Load Balancing v2.DescribeLoadBalancers", map[string]any{"LoadBalancers": []any{map[string]any{
		"LoadBalancerArn": LBARN, "LoadBalancerName": "web-alb", "Type": "application", "Scheme": "internet-facing",
		"DNSName":           "web-alb-1234567890.us-east-1.elb.amazonaws.com",
		"AvailabilityZones": []any{map[string]any{"ZoneName": "us-east-1a"}, map[string]any{"ZoneName": "us-east-1b"}, map[string]any{"ZoneName": "us-east-1c"}},
	}}})
	srv.Reply("Elastic Load Balancing v2.DescribeTargetGroups", map[string]any{"TargetGroups": []any{map[string]any{
		"TargetGroupArn": tgARN, "TargetGroupName": "web-tg", "TargetType": "instance", "Protocol": "HTTP", "Port": 8080,
		"LoadBalancerArns": []any{LBARN},
	}}})
	var health []any
	for _, id := range w.Instances {
		health = append(health, map[string]any{
			"Target":       map[string]any{"Id": id, "Port": 8080},
			"TargetHealth": map[string]any{"State": "healthy"},
		})
	}
	srv.Reply("Elastic Load Balancing v2.DescribeTargetHealth", map[string]any{"TargetHealthDescriptions": health})

	srv.Handle("EC2.DescribeInstances", func(r *Request) any {
		want, err := SelectInstances(r, w.Instances)
		if err != nil {
			return err
		}
		monitoring := "enabled"
		if w.BasicMonitoring {
			monitoring = "disabled"
		}
		var items []any
		for i, id := range w.Instances {
			if !want[id] {
				continue
			}
			items = append(items, map[string]any{
				"instanceId": id, "instanceType": "m5.large",
				"placement":     map[string]any{"availabilityZone": AZs[i], "availabilityZoneId": AZIDs[i]},
				"instanceState": map[string]any{"code": 16, "name": "running"},
				"launchTime":    ts("2024-11-20T09:00:00Z"),
				"cpuOptions":    map[string]any{"coreCount": 1, "threadsPerCore": 2},
				"monitoring":    map[string]any{"state": monitoring},
				"tagSet": []any{
					map[string]any{"key": "Name", "value": "web"},
					map[string]any{"key": "aws:autoscaling:groupName", "value": "web-asg"},
				},
			})
		}
		return map[string]any{"reservationSet": []any{map[string]any{
			"reservationId": "r-0a1b2c3d", "ownerId": w.Account, "instancesSet": items,
		}}}
	})
	var members []any
	for i, id := range w.Instances {
		members = append(members, map[string]any{"InstanceId": id, "AvailabilityZone": AZs[i], "LifecycleState": "InService", "HealthStatus": "Healthy"})
	}
	srv.Reply("Auto Scaling.DescribeAutoScalingGroups", map[string]any{"AutoScalingGroups": []any{map[string]any{
		"AutoScalingGroupName": "web-asg",
		"AutoScalingGroupARN":  "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:6d4f:autoScalingGroupName/web-asg",
		"MinSize":              3, "MaxSize": 6, "DesiredCapacity": 3, "Instances": members,
	}}})
	srv.Reply("Auto Scaling.DescribeScalingActivities", map[string]any{"Activities": []any{map[string]any{
		"ActivityId": "a1b2", "AutoScalingGroupName": "web-asg", "StartTime": ts("2024-11-20T09:00:00Z"),
		"Description": "Launching a new EC2 instance: i-0c5e1a2b3d4f50003", "Cause": "scale out", "StatusCode": "Successful",
	}}})

	srv.Reply("DynamoDB.DescribeTable", map[string]any{"Table": map[string]any{
		"TableName": "forge-templates", "TableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/forge-templates",
		"TableStatus": "ACTIVE", "BillingModeSummary": map[string]any{"BillingMode": "PAY_PER_REQUEST"},
		"ProvisionedThroughput": map[string]any{"ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
	}})

	srv.Handle("XRay.GetServiceGraph", w.serviceGraph)
	srv.Handle("XRay.GetTraceSummaries", w.traceSummaries)
	srv.Handle("XRay.BatchGetTraces", w.batchGetTraces)
	srv.Reply("CloudWatch Logs.DescribeLogGroups", map[string]any{"logGroups": []any{map[string]any{"logGroupName": "/app/bot-forge"}}})
	srv.Handle("CloudWatch Logs.StartQuery", w.startQuery)
	srv.Handle("CloudWatch Logs.GetQueryResults", w.getQueryResults)
	srv.Reply("CloudWatch Logs.StopQuery", map[string]any{"success": true})

	srv.Handle("CloudTrail.LookupEvents", w.lookupEvents)
	srv.Reply("STS.GetCallerIdentity", CallerIdentity(w.Account, "unstuck"))
	srv.Reply("Health.DescribeEvents", map[string]any{"events": []any{}})
	srv.Handle("Service Quotas.GetServiceQuota", func(r *Request) any {
		if r.String("ServiceCode") == "ec2" && r.String("QuotaCode") == "L-1216C47A" {
			return map[string]any{"Quota": map[string]any{
				"ServiceCode": "ec2", "QuotaCode": "L-1216C47A", "Value": 64.0,
				"QuotaName": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
			}}
		}
		// No applied value: the AWS default holds.
		return &Error{Status: 400, Code: "NoSuchResourceException", Message: "The request failed because the specified service does not exist."}
	})
	srv.Handle("Service Quotas.GetAWSDefaultServiceQuota", func(r *Request) any {
		names := map[string]string{"L-CF0CBE56": "Table-level read throughput limit", "L-AB614373": "Table-level write throughput limit"}
		if n, ok := names[r.String("QuotaCode")]; ok && r.String("ServiceCode") == "dynamodb" {
			return map[string]any{"Quota": map[string]any{"ServiceCode": "dynamodb", "QuotaCode": r.String("QuotaCode"), "QuotaName": n, "Value": 40000.0}}
		}
		return &Error{Status: 400, Code: "NoSuchResourceException", Message: "no such quota"}
	})
}

// level is a metric's value at t for a resource.
func (w *ALBWorld) level(ns, name string, dims map[string]string, t time.Time) (float64, bool) {
	if az, ok := dims["AvailabilityZone"]; ok && ns == "AWS/ApplicationELB" {
		return w.zoneLevel(name, dims, az, t)
	}
	after := !t.Before(w.Onset)
	wobble := 1 + 0.03*math.Sin(float64(t.Unix()/60)*0.7+float64(len(dims["InstanceId"])+len(name)))
	inst := dims["InstanceId"]
	switch ns + " " + name {
	case "AWS/ApplicationELB HTTPCode_Target_5XX_Count":
		if after {
			return 800 * wobble, true
		}
		return math.Round(wobble*20) - 19, true
	case "AWS/ApplicationELB HTTPCode_ELB_5XX_Count":
		if after {
			return 4, true
		}
		return 0, true
	case "AWS/ApplicationELB RequestCount":
		ramp := t.Sub(w.Onset.Add(-40*time.Minute)).Minutes() / 30
		ramp = math.Max(0, math.Min(1, ramp))
		return (2400 + 300*ramp) * wobble, true
	case "AWS/ApplicationELB HTTPCode_Target_4XX_Count":
		return 12 * wobble, true
	case "AWS/ApplicationELB TargetResponseTime":
		return 0.045 * wobble, true
	case "AWS/ApplicationELB HealthyHostCount":
		return 3, true
	case "AWS/ApplicationELB UnHealthyHostCount":
		return 0, true
	case "AWS/EC2 CPUUtilization":
		return 22 * wobble, inst != ""
	case "AWS/EC2 StatusCheckFailed":
		return 0, inst != ""
	case "AWS/EC2 NetworkIn":
		return 4e6 * wobble, inst != ""
	case "CWAgent mem_used_percent":
		return 41 * wobble, inst != ""
	case "CWAgent disk_used_percent":
		return 37, inst != ""
	case "AWS/AutoScaling GroupDesiredCapacity", "AWS/AutoScaling GroupInServiceInstances":
		return 3, true
	case "AWS/DynamoDB ConsumedReadCapacityUnits":
		return 1200 * wobble, true
	case "AWS/DynamoDB SuccessfulRequestLatency":
		return 4 * wobble, true
	}
	if strings.HasPrefix(ns, "AWS/DynamoDB") {
		return 0, true
	}
	return 0, false
}

// zoneLevel is a load balancer metric in one zone. "AvailabilityZone:
// Filters the metric data by Availability Zone" (Elastic Load Balancing,
// CloudWatch metrics for your Application Load Balancer); the load
// balancer's metrics are published under AvailabilityZone with
// LoadBalancer, or with TargetGroup and LoadBalancer, for its enabled
// zones: any other set of dimensions is a metric that does not exist. The
// world's load balancer has cross-zone load balancing off, so a zone's
// counts are those of its targets: the bad instance's zone has its 5XX.
func (w *ALBWorld) zoneLevel(name string, dims map[string]string, az string, t time.Time) (float64, bool) {
	if dims["LoadBalancer"] != LBDimension || !slices.Contains(AZs, az) {
		return 0, false
	}
	for k, v := range dims {
		if k != "LoadBalancer" && k != "AvailabilityZone" && (k != "TargetGroup" || v != TGDimension) {
			return 0, false
		}
	}
	bad := AZs[slices.Index(w.Instances, w.Bad)%len(AZs)]
	hosts := 0
	for i := range w.Instances {
		if AZs[i%len(AZs)] == az {
			hosts++
		}
	}
	share := float64(hosts) / float64(len(w.Instances))
	whole := func(n string) float64 {
		v, _ := w.level("AWS/ApplicationELB", n, map[string]string{"LoadBalancer": LBDimension}, t)
		return v
	}
	switch name {
	case "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count":
		if az == bad && !t.Before(w.Onset) {
			return whole(name), true
		}
		return 0, true
	case "RequestCount", "HTTPCode_Target_4XX_Count":
		return math.Round(whole(name) * share), true
	case "TargetResponseTime":
		return whole(name), true
	case "HealthyHostCount":
		return float64(hosts), true
	case "UnHealthyHostCount":
		return 0, true
	}
	return 0, false
}

func (w *ALBWorld) metricData(r *Request) any {
	if err := MetricDataStats(r); err != nil {
		return err
	}
	start, _ := r.Params["StartTime"].(time.Time)
	end, _ := r.Params["EndTime"].(time.Time)
	queries, _ := r.Params["MetricDataQueries"].([]any)
	var all []MetricSeries
	for _, q := range queries {
		qm := q.(map[string]any)
		ms := qm["MetricStat"].(map[string]any)
		m := ms["Metric"].(map[string]any)
		dims := map[string]string{}
		if ds, ok := m["Dimensions"].([]any); ok {
			for _, d := range ds {
				dm := d.(map[string]any)
				dims[dm["Name"].(string)] = dm["Value"].(string)
			}
		}
		period := time.Duration(ms["Period"].(float64)) * time.Second
		series := MetricSeries{ID: qm["Id"].(string), Label: m["MetricName"].(string), Times: []time.Time{}, Values: []float64{}}
		for t := start.Truncate(period); t.Before(end) && !t.After(w.Fires); t = t.Add(period) {
			if t.Before(start) || !PeriodKept(period, start, w.Present) {
				continue
			}
			if w.BasicMonitoring && m["Namespace"] == "AWS/EC2" && t.Minute()%5 != 0 {
				continue // published every 5 minutes
			}
			if at, ok := w.Silent[dims["InstanceId"]]; ok && !t.Before(at) {
				continue // no datapoint: the instance reports nothing
			}
			if v, ok := w.level(m["Namespace"].(string), m["MetricName"].(string), dims, t); ok {
				series.Times = append(series.Times, t)
				series.Values = append(series.Values, v*tailOf(m["MetricName"].(string), ms["Stat"].(string)))
			}
		}
		all = append(all, series)
	}
	return PageMetricData(r, all, w.MetricPageSize)
}

// tailOf is how far a statistic of a response time lies above its average:
// a percentile pNN lies (1 + (NN/100)^4) times it (p99 about twice); every
// other statistic and metric is answered at its level.
func tailOf(metric, stat string) float64 {
	if metric != "TargetResponseTime" || !strings.HasPrefix(stat, "p") {
		return 1
	}
	p, err := strconv.ParseFloat(stat[1:], 64)
	if err != nil {
		return 1
	}
	return 1 + math.Pow(p/100, 4)
}

// X-Ray: a sampled view of the traffic. Before the onset every request
// succeeds; from it, those i-…3 serves fault.

func (w *ALBWorld) during(r *Request) bool {
	end, _ := r.Params["EndTime"].(float64)
	return end > float64(w.Onset.Unix())
}

// Edge is an X-Ray service graph edge to a node, with its request and fault
// counts and mean response time in seconds.
func Edge(ref, total, faults int, respTime float64) map[string]any {
	return map[string]any{
		"ReferenceId": ref,
		"SummaryStatistics": map[string]any{
			"OkCount": total - faults, "TotalCount": total, "TotalResponseTime": respTime * float64(total),
			"ErrorStatistics": map[string]any{"ThrottleCount": 0, "OtherCount": 0, "TotalCount": 0},
			"FaultStatistics": map[string]any{"OtherCount": faults, "TotalCount": faults},
		},
	}
}

func (w *ALBWorld) serviceGraph(r *Request) any {
	total, faults := 600, 0
	if w.during(r) {
		total, faults = 90, 30
	}
	return map[string]any{"Services": []any{
		map[string]any{"ReferenceId": 0, "Name": "web-alb-clients", "Type": "client", "Edges": []any{Edge(1, total, faults, 0.045)}},
		map[string]any{"ReferenceId": 1, "Name": "bot-forge", "Names": []any{"bot-forge"}, "Type": "AWS::EC2::Instance", "Root": true,
			"Edges": []any{Edge(2, total-faults, 0, 0.004)}},
		map[string]any{"ReferenceId": 2, "Name": "forge-templates", "Names": []any{"forge-templates"}, "Type": "AWS::DynamoDB::Table", "Edges": []any{}},
	}}
}

// summaries are the traced requests the graph counts, a third per
// instance: 200 each in the hour before, 30 each in the three minutes
// from the onset.
func (w *ALBWorld) summaries(during bool) []any {
	per := 200
	if during {
		per = 30
	}
	var out []any
	n := 0
	for round := 0; round < per; round++ {
		for _, in := range w.Instances {
			n++
			id := fmt.Sprintf("1-6750d%03x-%024x", n%4096, n)
			fault := during && in == w.Bad
			s := map[string]any{
				"Id": id, "Duration": 0.05, "ResponseTime": 0.045, "HasFault": fault, "HasError": false, "HasThrottle": false,
				"EntryPoint":  map[string]any{"Name": "bot-forge", "Type": "AWS::EC2::Instance"},
				"ServiceIds":  []any{map[string]any{"Name": "bot-forge", "Type": "AWS::EC2::Instance"}, map[string]any{"Name": "forge-templates", "Type": "AWS::DynamoDB::Table"}},
				"InstanceIds": []any{map[string]any{"Id": in}},
				"Http": map[string]any{"HttpMethod": "POST", "HttpStatus": 200, "HttpURL": "https://web.example.com/reply",
					"ClientIp": fmt.Sprintf("198.51.100.%d", 1+n%40), "UserAgent": "Slackbot 1.0 (+https://api.slack.com/robots)"},
			}
			if fault {
				s["Http"].(map[string]any)["HttpStatus"] = 500
				s["ServiceIds"] = []any{map[string]any{"Name": "bot-forge", "Type": "AWS::EC2::Instance"}}
				s["FaultRootCauses"] = []any{map[string]any{"Services": []any{map[string]any{
					"Name": "bot-forge", "Type": "AWS::EC2::Instance",
					"EntityPath": []any{map[string]any{"Name": "bot-forge", "Exceptions": []any{map[string]any{"Name": "TemplateError", "Message": Exception}}}},
				}}}}
			}
			out = append(out, s)
		}
	}
	return out
}

// traceSummaries pages the summaries 100 at a time.
func (w *ALBWorld) traceSummaries(r *Request) any {
	all := w.summaries(w.during(r))
	from, _ := strconv.Atoi(r.String("NextToken"))
	to := min(from+100, len(all))
	out := map[string]any{"TraceSummaries": all[from:to], "TracesProcessedCount": len(all)}
	if to < len(all) {
		out["NextToken"] = strconv.Itoa(to)
	}
	return out
}

func (w *ALBWorld) batchGetTraces(r *Request) any {
	ids, _ := r.Params["TraceIds"].([]any)
	var traces []any
	for _, id := range ids {
		var n int
		fmt.Sscanf(id.(string)[strings.LastIndex(id.(string), "-")+1:], "%x", &n)
		in := w.Instances[(n-1)%len(w.Instances)]
		doc := map[string]any{
			"id": "seg" + strconv.Itoa(n), "name": "bot-forge", "origin": "AWS::EC2::Instance", "trace_id": id,
			"start_time": 1.7332218e9, "end_time": 1.73322180005e9,
			"aws": map[string]any{
				"ec2":             map[string]any{"instance_id": in, "availability_zone": "us-east-1c"},
				"cloudwatch_logs": []any{map[string]any{"log_group": "/app/bot-forge"}},
			},
		}
		b, _ := json.Marshal(doc)
		traces = append(traces, map[string]any{"Id": id, "Duration": 0.05, "Segments": []any{map[string]any{"Id": doc["id"], "Document": string(b)}}})
	}
	return map[string]any{"Traces": traces, "UnprocessedTraceIds": []any{}}
}

// Logs Insights over a synthetic log store: per stream and minute, 200
// INFO lines; from the onset, 800 ERROR lines a minute on the bad
// instance.

func (w *ALBWorld) startQuery(r *Request) any {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nextQID++
	id := fmt.Sprintf("q-%d", w.nextQID)
	groups, _ := r.Params["logGroupNames"].([]any)
	st, _ := r.Params["startTime"].(float64)
	en, _ := r.Params["endTime"].(float64)
	g := ""
	if len(groups) > 0 {
		g = groups[0].(string)
	}
	// StartQuery's limit: "The maximum number of log events to return in
	// the query. [...] The default is 10,000." (valid range 1 to 10,000,
	// StartQuery, CloudWatch Logs API reference). The query language's
	// limit: "You can specify a limit value of up to 100,000." (limit,
	// CloudWatch Logs Insights query syntax.)
	if v, ok := r.Params["limit"].(float64); ok && (v < 1 || v > 10000) {
		return &Error{Status: 400, Code: "InvalidParameterException", Message: "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"}
	}
	if m := queryLimitRe.FindStringSubmatch(r.String("queryString")); m != nil {
		if n, err := strconv.Atoi(m[1]); err != nil || n < 1 || n > 100000 {
			return &Error{Status: 400, Code: "MalformedQueryException", Message: "limit must be between 1 and 100000"}
		}
	}
	if g != "/app/bot-forge" {
		return &Error{Status: 400, Code: "ResourceNotFoundException", Message: "Log group does not exist"}
	}
	w.queries[id] = logQueryState{group: g, query: r.String("queryString"), start: time.Unix(int64(st), 0), end: time.Unix(int64(en), 0)}
	return map[string]any{"queryId": id}
}

type logTemplate struct {
	pattern, sample string
}

// lines counts a stream's lines of each template in a window.
func (w *ALBWorld) lines(stream string, start, end time.Time) map[logTemplate]int {
	out := map[logTemplate]int{}
	ok := logTemplate{OKPattern, "INFO request 7f3a served in 41 ms"}
	bad := logTemplate{ErrPattern, fmt.Sprintf(errLine, "9c1d")}
	for t := start.Truncate(time.Minute); t.Before(end); t = t.Add(time.Minute) {
		if t.Before(start) {
			continue
		}
		out[ok] += 200
		if stream == w.Bad && !t.Before(w.Onset) {
			out[bad] += 800
		}
	}
	return out
}

var sumExpr = regexp.MustCompile(`sum\((.*?)\) as (p\d+)`)
var containsArg = regexp.MustCompile(`strcontains\(@message, "((?:[^"\\]|\\.)*)"\)`)

func (w *ALBWorld) getQueryResults(r *Request) any {
	w.mu.Lock()
	q, ok := w.queries[r.String("queryId")]
	if ok {
		q.polls++
		w.queries[r.String("queryId")] = q
	}
	w.mu.Unlock()
	if !ok {
		return &Error{Status: 400, Code: "ResourceNotFoundException", Message: "no such query"}
	}
	field := func(k, v string) map[string]any { return map[string]any{"field": k, "value": v} }
	bytes := float64(q.end.Sub(q.start).Minutes()) * 3 * 120000
	if q.polls < 2 {
		return map[string]any{"status": "Running", "results": []any{}, "statistics": map[string]any{"bytesScanned": bytes / 2}}
	}
	var rows []any
	switch {
	case strings.HasPrefix(q.query, "stats count(*)"):
		for _, in := range w.Instances {
			n := 0
			for _, c := range w.lines(in, q.start, q.end) {
				n += c
			}
			rows = append(rows, []any{field("@logStream", in), field("lines", strconv.Itoa(n))})
		}
	case strings.HasPrefix(q.query, "pattern @message"):
		totals := map[logTemplate]int{}
		for _, in := range w.Instances {
			for t, c := range w.lines(in, q.start, q.end) {
				totals[t] += c
			}
		}
		var ts []logTemplate
		for t := range totals {
			ts = append(ts, t)
		}
		sort.Slice(ts, func(i, j int) bool { return totals[ts[i]] > totals[ts[j]] })
		for _, t := range ts {
			rows = append(rows, []any{
				field("@pattern", strings.ReplaceAll(t.pattern, "<*>", "<Token-1>")),
				field("@sampleCount", strconv.Itoa(totals[t])),
				field("@ratio", "0.5"), field("@severityLabel", "Info"),
			})
		}
	case strings.HasPrefix(q.query, "stats sum("):
		for _, in := range w.Instances {
			row := []any{field("@logStream", in)}
			for _, m := range sumExpr.FindAllStringSubmatch(q.query, -1) {
				n := 0
				for t, c := range w.lines(in, q.start, q.end) {
					all := true
					for _, a := range containsArg.FindAllStringSubmatch(m[1], -1) {
						if !strings.Contains(t.sample, strings.ReplaceAll(a[1], `\"`, `"`)) {
							all = false
						}
					}
					if all {
						n += c
					}
				}
				row = append(row, field(m[2], strconv.Itoa(n)))
			}
			rows = append(rows, row)
		}
	default:
		return &Error{Status: 400, Code: "MalformedQueryException", Message: "unknown query"}
	}
	return map[string]any{"status": "Complete", "results": rows, "statistics": map[string]any{
		"bytesScanned": bytes, "recordsMatched": 10.0, "recordsScanned": 100.0,
	}}
}

// CloudTrail: the security group change two hours before, and a routine
// write by the CloudWatch agent ten minutes before, newest first, one
// event a page (so that paging is exercised). It is strict where
// LookupEvents is (quotes from the API reference, LookupEvents):
//
//   - StartTime: "Specifies that only events that occur after or at the
//     specified time are returned. If the specified start time is after
//     the specified end time, an error is returned." EndTime: "Specifies
//     that only events that occur before or at the specified time are
//     returned."
//   - LookupAttributes: "Contains a list of lookup attributes. Currently
//     the list can contain only one item." An event is returned when its
//     attribute has the value (ReadOnly, EventName, EventSource, EventId,
//     Username, ResourceName).
//   - NextToken: "This token must be passed in with the same parameters
//     that were specified in the original call."
//   - MaxResults: "The number of events to return. Possible values are 1
//     through 50. The default is 50."
func (w *ALBWorld) lookupEvents(r *Request) any {
	type event struct {
		id, name, source, actor, resource string
		at                                time.Time
		params                            map[string]any
		identity                          map[string]any
	}
	assumed := func(role, session string) map[string]any {
		return map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::" + w.Account + ":assumed-role/" + role + "/" + session, "accountId": w.Account,
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "arn": "arn:aws:iam::" + w.Account + ":role/" + role, "userName": role}}}
	}
	agent := assumed("CWAgent", "i-0c5e1a2b3d4f50001")
	agent["sessionContext"].(map[string]any)["ec2RoleDelivery"] = "2.0"
	all := []event{ // newest first, as LookupEvents returns them
		{"4a1c9a52-0b36-4f6e-9c2e-1b0e8d6f7a10", "CreateLogStream", "logs.amazonaws.com", "arn:aws:sts::123456789012:assumed-role/CWAgent/i-0c5e1a2b3d4f50001", "/app/bot-forge",
			w.Onset.Add(-10 * time.Minute), map[string]any{"logGroupName": "/app/bot-forge", "logStreamName": "i-0c5e1a2b3d4f50001"}, agent},
		{"8d2e6f4b-7c1a-4e0b-a9d3-5f6e7a8b9c0d", "AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", "arn:aws:sts::123456789012:assumed-role/NetworkAdmin/kenji", "sg-0bastion",
			w.Onset.Add(-2 * time.Hour), map[string]any{"groupId": "sg-0bastion", "ipPermissions": map[string]any{"items": []any{map[string]any{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22}}}},
			assumed("NetworkAdmin", "kenji")},
	}
	start, hasStart := epoch(r.Params["StartTime"])
	end, hasEnd := epoch(r.Params["EndTime"])
	if hasStart && hasEnd && start.After(end) {
		return &Error{Status: 400, Code: "InvalidTimeRangeException", Message: "Start time must be before end time."}
	}
	attrs, _ := r.Params["LookupAttributes"].([]any)
	if len(attrs) > 1 {
		return &Error{Status: 400, Code: "InvalidLookupAttributesException", Message: "You can only specify one lookup attribute."}
	}
	var key, value string
	if len(attrs) == 1 {
		a, _ := attrs[0].(map[string]any)
		key, _ = a["AttributeKey"].(string)
		value, _ = a["AttributeValue"].(string)
	}
	if n, ok := r.Params["MaxResults"].(float64); ok && (n < 1 || n > 50) {
		return &Error{Status: 400, Code: "InvalidMaxResultsException", Message: "MaxResults must be between 1 and 50."}
	}
	var match []event
	for _, e := range all {
		if hasStart && e.at.Before(start) || hasEnd && e.at.After(end) {
			continue
		}
		var have string
		switch key {
		case "":
		case "ReadOnly":
			have = "false"
		case "EventName":
			have = e.name
		case "EventSource":
			have = e.source
		case "EventId":
			have = e.id
		case "Username":
			have = e.actor[strings.LastIndex(e.actor, "/")+1:]
		case "ResourceName":
			have = e.resource
		default:
			return &Error{Status: 400, Code: "InvalidLookupAttributesException", Message: "Unsupported lookup attribute " + key}
		}
		if key != "" && have != value {
			continue
		}
		match = append(match, e)
	}
	query := fmt.Sprintf("%v|%v|%s=%s", r.Params["StartTime"], r.Params["EndTime"], key, value)
	from := 0
	if tok := r.String("NextToken"); tok != "" {
		i := strings.Index(tok, "@")
		n, err := strconv.Atoi(tok[:max(i, 0)])
		if i < 0 || err != nil || tok[i+1:] != query || n > len(match) {
			return &Error{Status: 400, Code: "InvalidNextTokenException", Message: "Invalid NextToken."}
		}
		from = n
	}
	var events []any
	for _, e := range match[from:min(from+1, len(match))] {
		raw, _ := json.Marshal(map[string]any{
			"eventVersion": "1.08", "eventID": e.id, "eventTime": e.at.Format(time.RFC3339), "eventName": e.name, "eventSource": e.source,
			"awsRegion": "us-east-1", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "eventCategory": "Management",
			"userIdentity": e.identity, "requestParameters": e.params,
		})
		events = append(events, map[string]any{"EventId": e.id, "EventName": e.name, "EventSource": e.source, "EventTime": e.at, "ReadOnly": "false",
			"Username": e.actor[strings.LastIndex(e.actor, "/")+1:], "CloudTrailEvent": string(raw)})
	}
	out := map[string]any{"Events": events}
	if from+1 < len(match) {
		out["NextToken"] = strconv.Itoa(from+1) + "@" + query
	}
	return out
}

// epoch reads a JSON protocol timestamp: seconds since the epoch.
func epoch(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// ALBAlarm is DescribeAlarms' output for the ALB scenario's alarm, as
// CloudWatch's RPC v2 CBOR protocol carries it.
func ALBAlarm() map[string]any {
	return map[string]any{"MetricAlarms": []any{map[string]any{
		"AlarmName":          "web-alb-target-5xx",
		"AlarmArn":           "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-alb-target-5xx",
		"Namespace":          "AWS/ApplicationELB",
		"MetricName":         "HTTPCode_Target_5XX_Count",
		"Dimensions":         []any{map[string]any{"Name": "LoadBalancer", "Value": "app/web-alb/50dc6c495c0c9188"}},
		"Statistic":          "Sum",
		"Period":             60,
		"EvaluationPeriods":  3,
		"Threshold":          50.0,
		"ComparisonOperator": "GreaterThanThreshold",
		"StateValue":         "ALARM",
		"StateReason":        "Threshold Crossed: 3 datapoints were greater than the threshold (50.0).",
	}}}
}

// ALBAlarmHistory is DescribeAlarmHistory's output for the alarm: OK to ALARM at Fires.
func ALBAlarmHistory() map[string]any {
	item := func(at time.Time, from, to string) map[string]any {
		data, _ := json.Marshal(map[string]any{
			"version":  "1.0",
			"oldState": map[string]any{"stateValue": from},
			"newState": map[string]any{"stateValue": to, "stateReason": "Threshold Crossed"},
		})
		return map[string]any{
			"AlarmName": "web-alb-target-5xx", "AlarmType": "MetricAlarm", "HistoryItemType": "StateUpdate",
			"Timestamp": at, "HistorySummary": "Alarm updated from " + from + " to " + to, "HistoryData": string(data),
		}
	}
	// newest first, as ScanBy=TimestampDescending returns them
	return map[string]any{"AlarmHistoryItems": []any{
		item(ts("2024-12-03T10:33:00Z"), "OK", "ALARM"),
		item(ts("2024-12-02T08:00:00Z"), "INSUFFICIENT_DATA", "OK"),
	}}
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// queryLimitRe finds a Logs Insights query's limit command.
var queryLimitRe = regexp.MustCompile(`\|\s*limit\s+(?:any\s+)?(\d+)`)

// CallerIdentity is GetCallerIdentity's answer for a role assumed in
// account, with the session name session.
func CallerIdentity(account, session string) map[string]any {
	return map[string]any{
		"Account": account,
		"Arn":     "arn:aws:sts::" + account + ":assumed-role/unstuck-reader/" + session,
		"UserId":  "AROATESTROLEID:" + session,
	}
}
