package awstelemetry

import (
	"context"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/unstuck/unstuck/investigate"
)

// describeFunctions describes Lambda functions: memory, timeout, reserved
// concurrency, log group, and the event sources (queues, streams) that
// invoke them. GetFunctionConfiguration is used rather than GetFunction,
// which would also need the right to download the code.
func (b *topoBuilder) describeFunctions(ctx context.Context, names []string) {
	var wg sync.WaitGroup
	for _, name := range names {
		spawn(&wg, b.errs.add, func() {
			b.describeFunction(ctx, name)
		})
	}
	wg.Wait()
}

func (b *topoBuilder) describeFunction(ctx context.Context, name string) {
	r := investigate.Resource{
		ID: name, Type: investigate.TypeLambda, Name: name,
		Dims:     map[string]string{"FunctionName": name},
		LogGroup: "/aws/lambda/" + name,
		Config:   map[string]string{},
	}
	var (
		wg       sync.WaitGroup
		conf     *lambda.GetFunctionConfigurationOutput
		conc     *lambda.GetFunctionConcurrencyOutput
		mappings []lambdatypes.EventSourceMappingConfiguration
	)
	spawn(&wg, b.errs.add, func() {
		out, err := b.s.c.api.lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			b.errs.add(wrap("lambda get function configuration", err))
			return
		}
		conf = out
	})
	spawn(&wg, b.errs.add, func() {
		out, err := b.s.c.api.lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(name)})
		if err != nil {
			b.errs.add(wrap("lambda get function concurrency", err))
			return
		}
		conc = out
	})
	spawn(&wg, b.errs.add, func() {
		p := lambda.NewListEventSourceMappingsPaginator(b.s.c.api.lambda, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(name)})
		for p.HasMorePages() && len(mappings) < 50 {
			out, err := p.NextPage(ctx)
			if err != nil {
				b.errs.add(wrap("lambda list event source mappings", err))
				return
			}
			mappings = append(mappings, out.EventSourceMappings...)
		}
	})
	wg.Wait()
	if conf != nil {
		r.ARN = aws.ToString(conf.FunctionArn)
		r.Config["memory"] = strconv.Itoa(int(aws.ToInt32(conf.MemorySize)))
		r.Config["timeout"] = strconv.Itoa(int(aws.ToInt32(conf.Timeout)))
		if conf.Runtime != "" {
			r.Config["runtime"] = string(conf.Runtime)
		}
		if conf.LastModified != nil {
			r.Config["last_modified"] = aws.ToString(conf.LastModified)
		}
		if conf.State != "" {
			r.Config["state"] = string(conf.State)
		}
		if conf.LoggingConfig != nil && aws.ToString(conf.LoggingConfig.LogGroup) != "" {
			r.LogGroup = aws.ToString(conf.LoggingConfig.LogGroup)
		}
	}
	if conc != nil && conc.ReservedConcurrentExecutions != nil {
		r.Config["reserved_concurrency"] = strconv.Itoa(int(*conc.ReservedConcurrentExecutions))
	}
	b.add(r)
	if conf != nil {
		b.functionRelations(conf, name)
	}
	for _, m := range mappings {
		src := aws.ToString(m.EventSourceArn)
		switch {
		case strings.HasPrefix(src, "arn:") && strings.Contains(src, ":sqs:"):
			q := src[strings.LastIndex(src, ":")+1:]
			b.add(sqsResource(q, b.s.c.region, src))
			b.relate(q, name, investigate.RelTargets)
		case strings.Contains(src, ":dynamodb:") && strings.Contains(src, ":table/"):
			table := strings.SplitN(src[strings.Index(src, ":table/")+len(":table/"):], "/", 2)[0]
			b.relate(table, name, investigate.RelTargets)
			b.want(investigate.TypeDynamoDB, table)
		case src != "":
			id := src[strings.LastIndexAny(src, ":/")+1:]
			b.add(investigate.Resource{ID: id, Type: investigate.TypeOther, ARN: src})
			b.relate(id, name, investigate.RelTargets)
		}
	}
}

// functionRelations relates a function to its security groups, the key
// of its environment, its execution role, and the parameters and secrets
// its environment names.
func (b *topoBuilder) functionRelations(conf *lambda.GetFunctionConfigurationOutput, name string) {
	account := arnAccount(aws.ToString(conf.FunctionArn))
	if conf.VpcConfig != nil {
		for _, g := range conf.VpcConfig.SecurityGroupIds {
			b.attachGroup(g, "", account, name)
		}
	}
	b.encryptedBy(aws.ToString(conf.KMSKeyArn), name)
	b.assumedBy(aws.ToString(conf.Role), name)
	if conf.Environment != nil {
		keys := make([]string, 0, len(conf.Environment.Variables))
		for k := range conf.Environment.Variables {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if v := conf.Environment.Variables[k]; envParameter(v) {
				b.readBy(v, account, name)
			}
		}
	}
}

func sqsResource(name, region, arn string) investigate.Resource {
	return investigate.Resource{ID: name, Type: investigate.TypeSQS, Name: name, ARN: arn, Dims: map[string]string{"QueueName": name}}
}

// functionNameFromARN returns a function's name from its ARN (with or
// without a qualifier), or the value unchanged.
func functionNameFromARN(v string) string {
	i := strings.Index(v, ":function:")
	if i < 0 {
		return v
	}
	return strings.SplitN(v[i+len(":function:"):], ":", 2)[0]
}

// describeRestAPIs finds REST APIs by name and what their methods
// integrate with: Lambda functions ("targets") and HTTP backends.
func (b *topoBuilder) describeRestAPIs(ctx context.Context, names []string) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	found := map[string]string{} // name → id
	p := apigateway.NewGetRestApisPaginator(b.s.c.api.apigw, &apigateway.GetRestApisInput{Limit: aws.Int32(500)})
	for p.HasMorePages() && len(found) < len(want) {
		out, err := p.NextPage(ctx)
		if err != nil {
			b.errs.add(wrap("apigateway get rest apis", err))
			break
		}
		for _, api := range out.Items {
			if n := aws.ToString(api.Name); want[n] {
				found[n] = aws.ToString(api.Id)
			}
		}
	}
	for _, n := range names {
		r := investigate.Resource{ID: n, Type: investigate.TypeAPIGateway, Name: n, Dims: map[string]string{"ApiName": n}}
		if id, ok := found[n]; ok {
			r.ARN = "arn:" + partitionOf(b.s.c.region) + ":apigateway:" + b.s.c.region + "::/restapis/" + id
			r.Config = map[string]string{"api_id": id}
		}
		b.add(r)
	}
	var wg sync.WaitGroup
	for n, id := range found {
		spawn(&wg, b.errs.add, func() {
			b.describeIntegrations(ctx, n, id)
		})
	}
	wg.Wait()
}

func (b *topoBuilder) describeIntegrations(ctx context.Context, apiName, apiID string) {
	p := apigateway.NewGetResourcesPaginator(b.s.c.api.apigw, &apigateway.GetResourcesInput{
		RestApiId: aws.String(apiID), Embed: []string{"methods"}, Limit: aws.Int32(500),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			b.errs.add(wrap("apigateway get resources", err))
			return
		}
		for _, res := range out.Items {
			for _, m := range res.ResourceMethods {
				if m.MethodIntegration == nil {
					continue
				}
				uri := aws.ToString(m.MethodIntegration.Uri)
				switch {
				case strings.Contains(uri, ":lambda:path/") && strings.Contains(uri, ":function:"):
					fn := functionNameFromARN(strings.TrimSuffix(uri[strings.Index(uri, "arn:aws"):], "/invocations"))
					if i := strings.Index(fn, "/"); i >= 0 {
						fn = fn[:i]
					}
					if strings.Contains(fn, "${") {
						continue
					}
					b.relate(apiName, fn, investigate.RelTargets)
					b.want(investigate.TypeLambda, fn)
				case strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://"):
					u, err := url.Parse(uri)
					if err != nil || u.Host == "" || strings.Contains(u.Host, "${") {
						continue
					}
					b.add(investigate.Resource{ID: u.Host, Type: investigate.TypeExternal, Name: u.Host, URL: u.Scheme + "://" + u.Host})
					b.relate(apiName, u.Host, investigate.RelTargets)
				}
			}
		}
	}
}
