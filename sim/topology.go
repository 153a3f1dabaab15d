package sim

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// node is one resource with what the simulator derives from it.
type node struct {
	r        *scenario.Resource
	idx      int
	name     string
	arn      string
	dims     map[string]string
	logGroup string

	// streams are the log streams of a host: an instance's id, a function's
	// name, an ECS service's tasks.
	streams []string

	hosts    []*node // service: what it runs on
	calls    []*node // service: what it calls
	callers  []*node // services that call this one
	services []*node // host: services running on it
	members  []*node // asg: its instances
	targets  []*node // entry: its targets
	// listed are an ecs service's listed tasks (tasks.go); svc is a task's
	// service.
	listed []*node
	svc    *node

	// flow is the traffic the resource receives, in requests per second, as a
	// combination of the traffic streams.
	flow vec
	// onHost is, for a service, the traffic it serves on each host.
	onHost map[*node]vec
}

func (n *node) is(types ...investigate.ResourceType) bool {
	for _, t := range types {
		if n.r.Type == t {
			return true
		}
	}
	return false
}

func (n *node) isEntry() bool { return n.is(investigate.TypeALB, investigate.TypeAPIGateway) }
func (n *node) isHost() bool {
	return n.is(investigate.TypeEC2, investigate.TypeECS, investigate.TypeLambda)
}

// hostGroup is the log group AWS gives a function or an ECS service.
func (n *node) hostGroup() string {
	switch n.r.Type {
	case investigate.TypeLambda:
		return "/aws/lambda/" + n.name
	case investigate.TypeECS:
		return "/ecs/" + n.name
	case investigate.TypeECSTask:
		if n.svc != nil {
			return n.svc.hostGroup()
		}
	}
	return ""
}

// Defaults the simulator assumes where a scenario leaves a setting out.
const (
	defaultRPS          = 20
	defaultInstanceType = "m5.large"
	defaultMemory       = 128
	defaultTimeout      = 3
	defaultTasks        = 2
	defaultCluster      = "default"
	defaultMode         = "on-demand"
	defaultDBClass      = "db.m5.large"
	defaultAccountConc  = 1000
)

func (n *node) rps() float64 {
	if n.r.RPS > 0 {
		return n.r.RPS
	}
	return defaultRPS
}

func (n *node) instanceType() string {
	if n.r.InstanceType != "" {
		return n.r.InstanceType
	}
	return defaultInstanceType
}

func (n *node) memory() int {
	if n.r.Memory > 0 {
		return n.r.Memory
	}
	return defaultMemory
}

func (n *node) timeout() int {
	if n.r.Timeout > 0 {
		return n.r.Timeout
	}
	return defaultTimeout
}

func (n *node) tasks() int {
	if n.r.Tasks > 0 {
		return n.r.Tasks
	}
	return defaultTasks
}

func (n *node) cluster() string {
	if n.r.Cluster != "" {
		return n.r.Cluster
	}
	return defaultCluster
}

func (n *node) mode() string {
	if n.r.Mode != "" {
		return n.r.Mode
	}
	return defaultMode
}

func (n *node) dbClass() string {
	if n.r.InstanceClass != "" {
		return n.r.InstanceClass
	}
	return defaultDBClass
}

// desired is an Auto Scaling group's desired capacity.
func (n *node) desired() int {
	if n.r.Desired > 0 {
		return n.r.Desired
	}
	if len(n.members) > 0 {
		return len(n.members)
	}
	return max(n.r.Min, 1)
}

func (m *Sim) buildNodes() {
	s := m.sc
	m.byID = map[string]*node{}
	for i := range s.Resources {
		r := &s.Resources[i]
		n := &node{r: r, idx: i, name: r.Name}
		if n.name == "" {
			n.name = r.ID
		}
		m.nodes = append(m.nodes, n)
		m.byID[r.ID] = n
	}
	for _, n := range m.nodes {
		// A task's service first: its dimensions and streams name it.
		if r := n.r; r.Type == investigate.TypeECSTask {
			if svc, ok := m.byID[r.Service]; ok {
				n.svc = svc
			}
		}
	}
	for _, n := range m.nodes {
		r := n.r
		n.arn = r.ARN
		if n.arn == "" {
			n.arn = deriveARN(n, s.Account, s.Region)
		}
		n.dims = defaultDims(n)
		switch r.Type {
		case investigate.TypeService:
			n.logGroup = r.LogGroup
			if n.logGroup == "" {
				n.logGroup = "/app/" + r.ID
			}
			for _, id := range r.RunsOn {
				if h, ok := m.byID[id]; ok {
					n.hosts = append(n.hosts, h)
					h.services = append(h.services, n)
				}
			}
			for _, id := range r.Calls {
				if c, ok := m.byID[id]; ok {
					n.calls = append(n.calls, c)
					c.callers = append(c.callers, n)
				}
			}
		case investigate.TypeLambda, investigate.TypeECS:
			n.logGroup = n.hostGroup()
		case investigate.TypeEC2:
			if a, ok := m.byID[r.ASG]; ok && r.ASG != "" {
				a.members = append(a.members, n)
			}
		case investigate.TypeECSTask:
			if n.svc != nil {
				n.svc.listed = append(n.svc.listed, n)
			}
		case investigate.TypeALB, investigate.TypeAPIGateway:
			for _, id := range r.Targets {
				if t, ok := m.byID[id]; ok {
					n.targets = append(n.targets, t)
				}
			}
		}
		switch r.Type {
		case investigate.TypeEC2, investigate.TypeLambda:
			n.streams = []string{n.name}
		case investigate.TypeECS:
			if len(r.TaskIDs) > 0 {
				break // its listed tasks' streams (tasks.go)
			}
			for i := 0; i < n.tasks(); i++ {
				k := m.key("task", r.ID, strconv.Itoa(i))
				n.streams = append(n.streams, "ecs/app/"+hex(k, 16)+hex(mix64(k), 16))
			}
		case investigate.TypeECSTask:
			n.streams = []string{taskStream(n)}
		}
	}
}

// defaultDims are the CloudWatch dimensions AWS publishes a resource's
// metrics under.
func defaultDims(n *node) map[string]string {
	switch n.r.Type {
	case investigate.TypeALB:
		return map[string]string{"LoadBalancer": albDim(n)}
	case investigate.TypeAPIGateway:
		return map[string]string{"ApiName": n.name}
	case investigate.TypeEC2:
		return map[string]string{"InstanceId": n.name}
	case investigate.TypeASG:
		return map[string]string{"AutoScalingGroupName": n.name}
	case investigate.TypeECS:
		return map[string]string{"ClusterName": n.cluster(), "ServiceName": n.name}
	case investigate.TypeECSTask:
		if n.svc != nil {
			return map[string]string{"ClusterName": n.svc.cluster(), "ServiceName": n.svc.name, "TaskId": n.name}
		}
	case investigate.TypeLambda:
		return map[string]string{"FunctionName": n.name}
	case investigate.TypeDynamoDB:
		return map[string]string{"TableName": n.name}
	case investigate.TypeRDS:
		return map[string]string{"DBInstanceIdentifier": n.name}
	case investigate.TypeSQS:
		return map[string]string{"QueueName": n.name}
	case investigate.TypeNATGateway:
		return map[string]string{"NatGatewayId": n.name}
	case investigate.TypeEBS:
		return map[string]string{"VolumeId": n.name}
	case investigate.TypeElastiCache:
		return map[string]string{"CacheClusterId": n.name}
	case investigate.TypeAurora:
		return map[string]string{"DBClusterIdentifier": n.name}
	case investigate.TypeSNS:
		return map[string]string{"TopicName": n.name}
	case investigate.TypeStepFunctions:
		return map[string]string{"StateMachineArn": n.arn}
	}
	return nil
}

// albDim is an ALB's LoadBalancer dimension, app/NAME/ID, with the id taken
// from its ARN when the ARN has one.
func albDim(n *node) string {
	if i := strings.Index(n.arn, "loadbalancer/app/"); i >= 0 {
		rest := n.arn[i+len("loadbalancer/app/"):]
		if j := strings.LastIndex(rest, "/"); j >= 0 && isHex16(rest[j+1:]) {
			return "app/" + rest
		}
	}
	return fmt.Sprintf("app/%s/%016x", n.name, fnv64a("alb/"+n.name))
}

func isHex16(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

func fnv64a(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// deriveARN is a resource's ARN when the scenario gives none (the loader
// normally fills it in).
func deriveARN(n *node, account, region string) string {
	if account == "" {
		account = "123456789012"
	}
	if region == "" {
		region = "us-east-1"
	}
	name := n.name
	switch n.r.Type {
	case investigate.TypeALB:
		return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%016x", region, account, name, fnv64a("alb/"+name))
	case investigate.TypeAPIGateway:
		return fmt.Sprintf("arn:aws:apigateway:%s::/restapis/%s", region, name)
	case investigate.TypeEC2:
		return fmt.Sprintf("arn:aws:ec2:%s:%s:instance/%s", region, account, n.r.ID)
	case investigate.TypeASG:
		a, b := fnv64a("asg/"+name), fnv64a("asg2/"+name)
		return fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", region, account, uuid(a, b), name)
	case investigate.TypeECS:
		return fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", region, account, n.cluster(), name)
	case investigate.TypeECSTask:
		if n.svc != nil {
			return fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", region, account, n.svc.cluster(), name)
		}
	case investigate.TypeLambda:
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, name)
	case investigate.TypeDynamoDB:
		return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, account, name)
	case investigate.TypeRDS:
		return fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", region, account, name)
	case investigate.TypeSQS:
		return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, account, name)
	case investigate.TypeNATGateway:
		return fmt.Sprintf("arn:aws:ec2:%s:%s:natgateway/%s", region, account, name)
	case investigate.TypeEBS:
		return fmt.Sprintf("arn:aws:ec2:%s:%s:volume/%s", region, account, name)
	case investigate.TypeElastiCache:
		return fmt.Sprintf("arn:aws:elasticache:%s:%s:cluster:%s", region, account, name)
	case investigate.TypeAurora:
		return fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", region, account, name)
	case investigate.TypeSNS:
		return fmt.Sprintf("arn:aws:sns:%s:%s:%s", region, account, name)
	case investigate.TypeStepFunctions:
		return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", region, account, name)
	case investigate.TypeIAMRole:
		return fmt.Sprintf("arn:aws:iam::%s:role/%s", account, strings.TrimPrefix(name, "/"))
	case investigate.TypeIAMPolicy:
		return fmt.Sprintf("arn:aws:iam::%s:policy/%s", account, strings.TrimPrefix(name, "/"))
	case investigate.TypeSecurityGroup:
		return fmt.Sprintf("arn:aws:ec2:%s:%s:security-group/%s", region, account, n.r.ID)
	case investigate.TypeKMSKey:
		return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", region, account, n.r.ID)
	case investigate.TypeParameter:
		return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", region, account, strings.TrimPrefix(name, "/"))
	}
	return ""
}

// config is a resource's settings as strings.
func (m *Sim) config(n *node) map[string]string {
	r := n.r
	c := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			c[k] = v
		}
	}
	itoa := func(v int) string {
		if v == 0 {
			return ""
		}
		return strconv.Itoa(v)
	}
	switch r.Type {
	case investigate.TypeALB, investigate.TypeAPIGateway:
		set("rps", strconv.FormatFloat(n.rps(), 'f', -1, 64))
	case investigate.TypeEC2:
		set("instance_type", n.instanceType())
		set("asg", r.ASG)
	case investigate.TypeASG:
		set("min", strconv.Itoa(r.Min))
		set("max", strconv.Itoa(max(r.Max, n.desired())))
		set("desired", strconv.Itoa(n.desired()))
	case investigate.TypeECS:
		set("cluster", n.cluster())
		set("tasks", strconv.Itoa(n.tasks()))
	case investigate.TypeECSTask:
		m.taskConfig(n, set)
	case investigate.TypeLambda:
		set("memory", strconv.Itoa(n.memory()))
		set("timeout", strconv.Itoa(n.timeout()))
		if r.ReservedConcurrency != nil {
			set("reserved_concurrency", strconv.Itoa(*r.ReservedConcurrency))
		}
	case investigate.TypeDynamoDB:
		set("mode", n.mode())
		set("rcu", itoa(r.RCU))
		set("wcu", itoa(r.WCU))
	case investigate.TypeRDS:
		set("engine", r.Engine)
		set("instance_class", n.dbClass())
		set("max_connections", itoa(r.MaxConnections))
	default:
		n.infraConfig(set)
	}
	if r.Type == investigate.TypeRDS {
		n.auroraConfig(set)
	}
	if len(c) == 0 {
		return nil
	}
	return c
}

// Topology returns every resource of the scenario and how they relate.
func (m *Sim) Topology(ctx context.Context, alarm investigate.Alarm) (investigate.Topology, error) {
	if err := m.call(ctx, KindTopology); err != nil {
		return investigate.Topology{}, err
	}
	var t investigate.Topology
	for _, n := range m.nodes {
		r := n.r
		if notStarted(n, m.now) {
			continue // ListTasks does not list it yet
		}
		t.Resources = append(t.Resources, investigate.Resource{
			ID:       r.ID,
			Type:     r.Type,
			Name:     n.name,
			ARN:      n.arn,
			AZ:       r.AZ,
			Tags:     maps.Clone(r.Tags),
			Dims:     maps.Clone(n.dims),
			LogGroup: n.logGroup,
			URL:      r.URL,
			Config:   m.config(n),
		})
	}
	rel := func(from, to, kind string) {
		t.Relations = append(t.Relations, investigate.Relation{From: from, To: to, Kind: kind})
	}
	for _, n := range m.nodes {
		r := n.r
		for _, x := range n.targets {
			rel(r.ID, x.r.ID, investigate.RelTargets)
		}
		for _, x := range n.hosts {
			rel(r.ID, x.r.ID, investigate.RelRunsOn)
		}
		for _, x := range n.calls {
			rel(r.ID, x.r.ID, investigate.RelCalls)
		}
		if r.Type == investigate.TypeEC2 && r.ASG != "" {
			if _, ok := m.byID[r.ASG]; ok {
				rel(r.ID, r.ASG, investigate.RelMemberOf)
			}
		}
		// The relations that carry no requests. A queue's event source
		// mappings are targets, as AWS discovery reads them.
		for _, l := range []struct {
			ids  []string
			kind string
		}{
			{r.AttachedTo, investigate.RelAttachedTo},
			{r.Encrypts, investigate.RelEncrypts},
			{r.ReadBy, investigate.RelReadBy},
			{r.AssumedBy, investigate.RelAssumedBy},
			{r.Triggers, investigate.RelTargets},
			{[]string{r.ReplicaOf}, investigate.RelReplicaOf},
		} {
			for _, id := range l.ids {
				if _, ok := m.byID[id]; ok && id != r.ID {
					rel(r.ID, id, l.kind)
				}
			}
		}
		if n.svc != nil && !notStarted(n, m.now) {
			rel(r.ID, n.svc.r.ID, investigate.RelMemberOf)
		}
		t.Relations = append(t.Relations, m.infraRelations(n)...)
	}
	return t, nil
}
