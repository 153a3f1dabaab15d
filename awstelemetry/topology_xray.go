package awstelemetry

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	xtypes "github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/unstuck/unstuck/investigate"
)

// clientID is the caller of requests that enter the system.
const clientID = "client"

// xrayNode maps an X-Ray service graph node to the resource it stands for
// and that resource's type: application services become "service"
// resources named as X-Ray names them, AWS resources the ids the topology
// uses (function, table, queue and API names), anything else "external".
func xrayNode(name, typ string) (id string, rtype investigate.ResourceType) {
	switch typ {
	case "client":
		return clientID, ""
	case "AWS::Lambda::Function", "AWS::Lambda":
		return functionNameFromARN(name), investigate.TypeLambda
	case "AWS::DynamoDB::Table":
		return name, investigate.TypeDynamoDB
	case "AWS::SQS::Queue":
		return name, investigate.TypeSQS
	case "AWS::RDS::DBInstance":
		return name, investigate.TypeRDS
	case "AWS::ApiGateway::Stage":
		api, _, _ := strings.Cut(name, "/")
		return api, investigate.TypeAPIGateway
	case "", "AWS::EC2::Instance", "AWS::EC2", "AWS::ECS::Container", "AWS::ECS::Fargate", "AWS::ECS",
		"AWS::EKS::Container", "AWS::ElasticBeanstalk::Environment", "AWS::AppRunner::Service", "AWS::EKS":
		return name, investigate.TypeService
	}
	if strings.HasPrefix(typ, "AWS::") {
		return name, investigate.TypeOther
	}
	return name, investigate.TypeExternal
}

// xrayGraph is what the topology reads from X-Ray.
type xrayGraph struct {
	services  []xtypes.Service
	summaries []xtypes.TraceSummary
}

// Caps on the X-Ray pages one read takes.
const (
	maxGraphPages = 5
)

// readXRayGraph reads the service graph and a page of trace summaries of a
// window.
func (s *Session) readXRayGraph(ctx context.Context, start, end time.Time) (*xrayGraph, error) {
	g := &xrayGraph{}
	services, err := s.serviceGraph(ctx, start, end)
	if err != nil {
		return nil, err
	}
	g.services = services
	if len(services) == 0 {
		return g, nil
	}
	out, err := s.c.api.xray.GetTraceSummaries(ctx, &xray.GetTraceSummariesInput{StartTime: aws.Time(start), EndTime: aws.Time(end)})
	if err != nil {
		return g, wrap("xray get trace summaries", err)
	}
	g.summaries = out.TraceSummaries
	return g, nil
}

func (s *Session) serviceGraph(ctx context.Context, start, end time.Time) ([]xtypes.Service, error) {
	var services []xtypes.Service
	p := xray.NewGetServiceGraphPaginator(s.c.api.xray, &xray.GetServiceGraphInput{StartTime: aws.Time(start), EndTime: aws.Time(end)})
	for i := 0; p.HasMorePages() && i < maxGraphPages; i++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap("xray get service graph", err)
		}
		services = append(services, out.Services...)
	}
	return services, nil
}

// addXRay adds X-Ray's services and what they call, which hosts each
// service runs on (from trace summaries and a few segments) and the log
// groups the segments name.
func (b *topoBuilder) addXRay(ctx context.Context, g *xrayGraph) {
	byRef := map[int32]xtypes.Service{}
	for _, n := range g.services {
		byRef[aws.ToInt32(n.ReferenceId)] = n
	}
	clientCalled := map[string]bool{}
	services := map[string]bool{}
	for _, n := range g.services {
		id, typ := xrayNode(aws.ToString(n.Name), aws.ToString(n.Type))
		b.mu.Lock()
		b.xrayIDs[aws.ToString(n.Type)+"|"+aws.ToString(n.Name)] = id
		b.mu.Unlock()
		b.addNode(id, typ, aws.ToString(n.Name))
		if typ == investigate.TypeService {
			services[id] = true
		}
		for _, e := range n.Edges {
			callee, ok := byRef[aws.ToInt32(e.ReferenceId)]
			if !ok {
				continue
			}
			to, toType := xrayNode(aws.ToString(callee.Name), aws.ToString(callee.Type))
			switch {
			case id == clientID:
				clientCalled[to] = true
			case typ == investigate.TypeAPIGateway || typ == investigate.TypeALB:
				b.relate(id, to, investigate.RelTargets)
			case typ == investigate.TypeLambda && toType == investigate.TypeLambda:
				// AWS::Lambda → AWS::Lambda::Function: one function.
			default:
				b.relate(id, to, investigate.RelCalls)
			}
		}
	}
	b.runsOnFromSummaries(g.summaries, services)
	b.readSegments(ctx, g.summaries, services)
	b.findLogGroups(ctx, services)

	// A service that clients call on the targets of a load balancer is
	// behind that load balancer.
	b.mu.Lock()
	defer b.mu.Unlock()
	for svc := range clientCalled {
		for _, rel := range b.relOrder {
			if rel.Kind == investigate.RelTargets && b.res[rel.From] != nil && b.res[rel.From].Type == investigate.TypeALB && b.runsOn[svc][rel.To] {
				b.entryOfSvc[svc] = rel.From
				break
			}
		}
	}
}

func (b *topoBuilder) addNode(id string, typ investigate.ResourceType, name string) {
	switch typ {
	case "":
		return
	case investigate.TypeLambda, investigate.TypeDynamoDB, investigate.TypeAPIGateway, investigate.TypeRDS:
		b.want(typ, id)
	case investigate.TypeSQS:
		b.add(sqsResource(id, b.s.c.region, ""))
	case investigate.TypeExternal:
		b.add(investigate.Resource{ID: id, Type: typ, Name: name})
	default:
		if !b.has(id) {
			b.add(investigate.Resource{ID: id, Type: typ, Name: name})
		}
	}
}

// summaryServices are the application services a trace went through.
func summaryServices(ts xtypes.TraceSummary) []string {
	var out []string
	for _, sid := range ts.ServiceIds {
		if id, typ := xrayNode(aws.ToString(sid.Name), aws.ToString(sid.Type)); typ == investigate.TypeService {
			out = append(out, id)
		}
	}
	return out
}

// summaryInstances are the EC2 instances a trace went through.
func summaryInstances(ts xtypes.TraceSummary) []string {
	seen := map[string]bool{}
	var out []string
	add := func(id string) {
		if strings.HasPrefix(id, "i-") && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, in := range ts.InstanceIds {
		add(aws.ToString(in.Id))
	}
	for _, r := range ts.ResourceARNs {
		if arn := aws.ToString(r.ARN); strings.Contains(arn, ":instance/") {
			add(arn[strings.LastIndex(arn, "/")+1:])
		}
	}
	return out
}

// runsOnFromSummaries relates a service to the instances of the traces that
// went through it and no other application service.
func (b *topoBuilder) runsOnFromSummaries(sums []xtypes.TraceSummary, services map[string]bool) {
	for _, ts := range sums {
		svcs := summaryServices(ts)
		if len(svcs) != 1 || !services[svcs[0]] {
			continue
		}
		for _, in := range summaryInstances(ts) {
			b.relate(svcs[0], in, investigate.RelRunsOn)
			b.want(investigate.TypeEC2, in)
		}
	}
}

// segmentDoc is the part of an X-Ray segment document the adapter reads.
type segmentDoc struct {
	Name     string `json:"name"`
	Origin   string `json:"origin"`
	Fault    bool   `json:"fault"`
	Error    bool   `json:"error"`
	Throttle bool   `json:"throttle"`
	Inferred bool   `json:"inferred"`
	AWS      struct {
		EC2 struct {
			InstanceID string `json:"instance_id"`
		} `json:"ec2"`
		CloudWatchLogs []struct {
			LogGroup string `json:"log_group"`
		} `json:"cloudwatch_logs"`
	} `json:"aws"`
	Cause json.RawMessage `json:"cause"`
	Subs  []segmentDoc    `json:"subsegments"`
}

// segmentCause is a segment's cause when it is an object (it may also be
// an exception id string).
type segmentCause struct {
	Exceptions []struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"exceptions"`
}

// readSegments reads a few whole traces (one call) for what summaries do not
// say: the instance each service's segment ran on and its log group.
func (b *topoBuilder) readSegments(ctx context.Context, sums []xtypes.TraceSummary, services map[string]bool) {
	if len(services) == 0 {
		return
	}
	var ids []string
	seen := map[string]bool{}
	for _, ts := range sums {
		if len(ids) >= 5 {
			break
		}
		key := strings.Join(summaryServices(ts), ",") + "@" + strings.Join(summaryInstances(ts), ",")
		if key == "@" || seen[key] {
			continue
		}
		seen[key] = true
		ids = append(ids, aws.ToString(ts.Id))
	}
	if len(ids) == 0 {
		return
	}
	out, err := b.s.c.api.xray.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: ids})
	if err != nil {
		b.errs.add(wrap("xray batch get traces", err))
		return
	}
	hosts, groups := segmentFacts(out.Traces)
	for svc, ins := range hosts {
		if !services[svc] {
			continue
		}
		for _, in := range ins {
			b.relate(svc, in, investigate.RelRunsOn)
			b.want(investigate.TypeEC2, in)
		}
	}
	for svc, g := range groups {
		if services[svc] {
			b.add(investigate.Resource{ID: svc, LogGroup: g})
		}
	}
}

// segmentFacts reads whole traces' segments for what summaries do not say:
// the instances each application service's segments ran on, and the log
// group they name.
func segmentFacts(traces []xtypes.Trace) (hosts map[string][]string, logGroups map[string]string) {
	hosts, logGroups = map[string][]string{}, map[string]string{}
	seen := map[string]bool{}
	for _, tr := range traces {
		for _, seg := range tr.Segments {
			var d segmentDoc
			if json.Unmarshal([]byte(aws.ToString(seg.Document)), &d) != nil || d.Inferred {
				continue
			}
			id, typ := xrayNode(d.Name, d.Origin)
			if typ != investigate.TypeService {
				continue
			}
			if in := d.AWS.EC2.InstanceID; in != "" && !seen[id+"@"+in] {
				seen[id+"@"+in] = true
				hosts[id] = append(hosts[id], in)
			}
			for _, l := range d.AWS.CloudWatchLogs {
				if l.LogGroup != "" && logGroups[id] == "" {
					logGroups[id] = l.LogGroup
				}
			}
		}
	}
	return hosts, logGroups
}

// findLogGroups looks for the log group of services that segments did not
// name: a group whose name ends with "/<service>" or is the service's name.
func (b *topoBuilder) findLogGroups(ctx context.Context, services map[string]bool) {
	names := slices.Sorted(maps.Keys(services))
	asked := 0
	for _, name := range names {
		b.mu.Lock()
		r := b.res[name]
		known := r != nil && r.LogGroup != ""
		b.mu.Unlock()
		if known || asked >= 5 {
			continue
		}
		asked++
		out, err := b.s.c.api.logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{
			LogGroupNamePattern: aws.String(name), Limit: aws.Int32(50),
		})
		if err != nil {
			b.errs.add(wrap("logs describe log groups", err))
			continue
		}
		var cands []string
		for _, g := range out.LogGroups {
			n := aws.ToString(g.LogGroupName)
			if n == name || strings.HasSuffix(n, "/"+name) {
				cands = append(cands, n)
			}
		}
		if len(cands) == 0 {
			continue
		}
		sort.Slice(cands, func(i, j int) bool {
			return len(cands[i]) < len(cands[j]) || (len(cands[i]) == len(cands[j]) && cands[i] < cands[j])
		})
		b.add(investigate.Resource{ID: name, LogGroup: cands[0]})
	}
}
