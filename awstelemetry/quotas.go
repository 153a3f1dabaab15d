package awstelemetry

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	sqtypes "github.com/aws/aws-sdk-go-v2/service/servicequotas/types"

	"github.com/unstuck/unstuck/investigate"
)

// quotaRef is one Service Quotas quota.
type quotaRef struct{ service, code string }

// Quota codes behind the limit checks.
var (
	quotaLambdaConcurrency = quotaRef{"lambda", "L-B99A9384"} // Concurrent executions
	quotaEC2StandardVCPUs  = quotaRef{"ec2", "L-1216C47A"}    // Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances, vCPUs
	quotaDynamoTableRead   = quotaRef{"dynamodb", "L-CF0CBE56"}
	quotaDynamoTableWrite  = quotaRef{"dynamodb", "L-AB614373"}
	quotaAPIGatewayRate    = quotaRef{"apigateway", "L-8A5B8E43"} // Throttle rate, requests per second
	quotaFargateVCPUs      = quotaRef{"fargate", "L-3032A538"}    // Fargate On-Demand vCPU resource count
)

// quotasFor are the quotas that apply to a resource.
func quotasFor(r investigate.Resource) []quotaRef {
	switch r.Type {
	case investigate.TypeLambda:
		return []quotaRef{quotaLambdaConcurrency}
	case investigate.TypeEC2:
		if t := r.Config["instance_type"]; t == "" || strings.ContainsAny(t[:1], "acdhimrtz") {
			return []quotaRef{quotaEC2StandardVCPUs}
		}
	case investigate.TypeDynamoDB:
		return []quotaRef{quotaDynamoTableRead, quotaDynamoTableWrite}
	case investigate.TypeAPIGateway:
		return []quotaRef{quotaAPIGatewayRate}
	case investigate.TypeECS:
		if strings.EqualFold(r.Config["launch_type"], "FARGATE") {
			return []quotaRef{quotaFargateVCPUs}
		}
	}
	return nil
}

// Quotas returns the Service Quotas values that apply to the resources:
// Lambda concurrent executions, EC2 on-demand standard vCPUs, DynamoDB
// table read and write throughput, API Gateway's throttle rate, Fargate
// vCPUs. Each quota is read once (GetServiceQuota, or the AWS default when
// the account has no applied value) and returned once per resource. When
// some quotas cannot be read the others are returned; only when none can
// is it an error.
func (s *Session) Quotas(ctx context.Context, resources []investigate.Resource) (quotas []investigate.Quota, err error) {
	defer recoverTo(&err, "service quotas")
	ctx = s.ctx(ctx)
	need := map[quotaRef][]string{}
	var order []quotaRef
	for _, r := range resources {
		for _, q := range quotasFor(r) {
			if _, ok := need[q]; !ok {
				order = append(order, q)
			}
			need[q] = append(need[q], r.ID)
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	values := make([]*sqtypes.ServiceQuota, len(order))
	var (
		wg   sync.WaitGroup
		errs errorList
	)
	for i, q := range order {
		spawn(&wg, errs.add, func() {
			v, err := s.quota(ctx, q)
			values[i] = v
			errs.add(err)
		})
	}
	wg.Wait()
	for i, q := range order {
		v := values[i]
		if v == nil {
			continue
		}
		for _, id := range need[q] {
			quotas = append(quotas, investigate.Quota{
				Resource: id, Service: q.service, Code: q.code,
				Name: aws.ToString(v.QuotaName), Value: aws.ToFloat64(v.Value),
			})
		}
	}
	if e := errs.list(); len(e) > 0 {
		if len(quotas) == 0 {
			return nil, e[0]
		}
		s.addProblems(e...)
	}
	return quotas, nil
}

func (s *Session) quota(ctx context.Context, q quotaRef) (*sqtypes.ServiceQuota, error) {
	out, err := s.c.api.quotas.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String(q.service), QuotaCode: aws.String(q.code)})
	if err == nil && out.Quota != nil && out.Quota.Value != nil {
		return out.Quota, nil
	}
	var nf *sqtypes.NoSuchResourceException
	if err != nil && !errors.As(err, &nf) {
		return nil, wrap("service quotas get service quota "+q.service+" "+q.code, err)
	}
	def, err := s.c.api.quotas.GetAWSDefaultServiceQuota(ctx, &servicequotas.GetAWSDefaultServiceQuotaInput{ServiceCode: aws.String(q.service), QuotaCode: aws.String(q.code)})
	if err != nil {
		return nil, wrap("service quotas get aws default service quota "+q.service+" "+q.code, err)
	}
	return def.Quota, nil
}
