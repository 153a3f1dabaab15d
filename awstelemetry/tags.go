package awstelemetry

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	tagtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	"github.com/unstuck/unstuck/investigate"
)

// appTagKeys are the tags that name a resource's application, in the order
// they are tried (keys compared without regard to case): the CloudFormation
// stack that made the resource, then the app, application and service tags
// teams set themselves. The first one the alarm's resource carries is the
// one the topology widens by.
var appTagKeys = []string{"aws:cloudformation:stack-name", "app", "application", "service"}

// taggedResourceTypes are the Tagging API resource types the describers can
// describe ("service[:resourceType]", as each appears in its ARNs). API
// Gateway is left out: its ARNs name an API by id, the describer by name.
// Auto Scaling groups come with their instances.
var taggedResourceTypes = []string{
	"ec2:instance",
	"elasticloadbalancing:loadbalancer",
	"lambda:function",
	"dynamodb:table",
	"rds:db",
	"ecs:service",
	"sqs",
}

// Budgets of the widening: GetResources pages of tagResourcesPerPage
// resources ("You can specify a minimum of 1 and a maximum value of 100",
// ResourcesPerPage), and at most maxSameApp resources added.
const (
	tagResourcesPerPage = 100
	maxTagPages         = 3
	maxSameApp          = 50
)

// appTag returns the tag that names a resource's application, with the key
// as the resource spells it (tag keys are case-sensitive in AWS, so the
// filter must use the resource's own spelling).
func appTag(tags map[string]string) (key, value string, ok bool) {
	for _, want := range appTagKeys {
		for k, v := range tags {
			if strings.EqualFold(k, want) && v != "" {
				return k, v, true
			}
		}
	}
	return "", "", false
}

// isAppTagKey reports whether a tag key is one of appTagKeys.
func isAppTagKey(k string) bool {
	for _, want := range appTagKeys {
		if strings.EqualFold(k, want) {
			return true
		}
	}
	return false
}

// widenBySameApp adds what shares the application tag of the alarm's
// resource, the way CloudWatch investigations does: it reads the root's tags
// (from its description, else from the Tagging API by ARN), lists the
// resources of the describable types carrying the same tag within a page
// budget, and asks for each that the topology lacks, related to the root
// by investigate.RelSameApp. Truncation and failures are the builder's
// errors (the session's problems).
func (b *topoBuilder) widenBySameApp(ctx context.Context, rootID string) {
	if b.s.c.api.tag == nil || rootID == "" {
		return
	}
	b.mu.Lock()
	root, ok := b.res[rootID]
	var r investigate.Resource
	if ok {
		r = *root
		r.Tags = mergeMap(nil, root.Tags)
	}
	b.mu.Unlock()
	if !ok {
		return
	}
	key, value, found := appTag(r.Tags)
	if !found && r.ARN != "" {
		tags, err := b.tagsOf(ctx, r.ARN)
		if err != nil {
			b.errs.add(err)
			return
		}
		b.add(investigate.Resource{ID: rootID, Tags: tags})
		key, value, found = appTag(tags)
	}
	if !found {
		return
	}
	p := tagging.NewGetResourcesPaginator(b.s.c.api.tag, &tagging.GetResourcesInput{
		TagFilters:          []tagtypes.TagFilter{{Key: aws.String(key), Values: []string{value}}},
		ResourceTypeFilters: taggedResourceTypes,
		ResourcesPerPage:    aws.Int32(tagResourcesPerPage),
	})
	var arns []string
	page := 0
	for ; p.HasMorePages() && page < maxTagPages; page++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			b.errs.add(wrap(fmt.Sprintf("tagging get resources %s=%s", key, value), err))
			return
		}
		for _, m := range out.ResourceTagMappingList {
			arns = append(arns, aws.ToString(m.ResourceARN))
		}
	}
	if p.HasMorePages() {
		b.errs.add(fmt.Errorf("tagging get resources %s=%s: more than %d resources share the tag; read the first %d pages", key, value, len(arns), maxTagPages))
	}
	added := 0
	for _, arn := range arns {
		if arn == r.ARN {
			continue
		}
		typ, id, want, ok := resourceFromARN(arn)
		if !ok || id == rootID || b.has(id) {
			continue
		}
		if added == maxSameApp {
			b.errs.add(fmt.Errorf("tagging %s=%s: more than %d other resources share the tag; the topology took the first %d", key, value, maxSameApp, maxSameApp))
			break
		}
		added++
		if typ == investigate.TypeSQS {
			b.add(sqsResource(id, b.s.c.region, arn))
		} else {
			b.want(typ, want)
		}
		b.relate(rootID, id, investigate.RelSameApp)
	}
}

// tagsOf reads one resource's tags through the Tagging API. ResourceARNList
// goes alone: "You can't specify both this parameter and the
// ResourceTypeFilters parameter", "... the TagFilters parameter", "... any of
// the pagination parameters" (GetResources, API reference), and "If a
// resource specified by this parameter doesn't exist, it doesn't generate an
// error; it simply isn't included in the response".
func (b *topoBuilder) tagsOf(ctx context.Context, arn string) (map[string]string, error) {
	out, err := b.s.c.api.tag.GetResources(ctx, &tagging.GetResourcesInput{ResourceARNList: []string{arn}})
	if err != nil {
		return nil, wrap("tagging get resources (tags of "+arn+")", err)
	}
	tags := map[string]string{}
	for _, m := range out.ResourceTagMappingList {
		if aws.ToString(m.ResourceARN) != arn {
			continue
		}
		for _, t := range m.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return tags, nil
}

// resourceFromARN maps an ARN of one of taggedResourceTypes to the
// resource's type, its id in the topology, and the id its describer takes
// (they differ for ECS services, described as "cluster/service"). ok is
// false for ARNs the topology cannot describe.
func resourceFromARN(arn string) (typ investigate.ResourceType, id, want string, ok bool) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 6 || p[0] != "arn" {
		return "", "", "", false
	}
	service, rest := p[2], p[5]
	switch service {
	case "ec2":
		if v, ok := strings.CutPrefix(rest, "instance/"); ok && v != "" {
			return investigate.TypeEC2, v, v, true
		}
		if v, ok := strings.CutPrefix(rest, "natgateway/"); ok && v != "" {
			return investigate.TypeNATGateway, v, v, true
		}
		if v, ok := strings.CutPrefix(rest, "volume/"); ok && v != "" {
			return investigate.TypeEBS, v, v, true
		}
	case "elasticache":
		if v, ok := strings.CutPrefix(rest, "cluster:"); ok && v != "" {
			return investigate.TypeElastiCache, v, v, true
		}
	case "elasticloadbalancing":
		if v, ok := strings.CutPrefix(rest, "loadbalancer/app/"); ok && v != "" {
			dim := "app/" + v
			return investigate.TypeALB, lbNameFromDim(dim), dim, true
		}
	case "lambda":
		if strings.HasPrefix(rest, "function:") {
			n := functionNameFromARN(arn)
			return investigate.TypeLambda, n, n, n != ""
		}
	case "dynamodb":
		if v, ok := strings.CutPrefix(rest, "table/"); ok && v != "" {
			v, _, _ = strings.Cut(v, "/")
			return investigate.TypeDynamoDB, v, v, true
		}
	case "rds":
		if v, ok := strings.CutPrefix(rest, "db:"); ok && v != "" {
			return investigate.TypeRDS, v, v, true
		}
		if v, ok := strings.CutPrefix(rest, "cluster:"); ok && v != "" {
			return investigate.TypeAurora, v, v, true
		}
	case "ecs":
		// The long ARN format names the cluster: service/CLUSTER/NAME.
		if v, ok := strings.CutPrefix(rest, "service/"); ok {
			if cluster, name, ok := strings.Cut(v, "/"); ok && cluster != "" && name != "" {
				return investigate.TypeECS, name, v, true
			}
		}
	case "sqs":
		if rest != "" && !strings.Contains(rest, "/") {
			return investigate.TypeSQS, rest, rest, true
		}
	case "sns":
		if rest != "" && !strings.Contains(rest, ":") {
			return investigate.TypeSNS, rest, rest, true
		}
	case "states":
		if strings.HasPrefix(rest, "stateMachine:") {
			return investigate.TypeStepFunctions, stateMachineName(arn), arn, true
		}
	}
	return "", "", "", false
}
