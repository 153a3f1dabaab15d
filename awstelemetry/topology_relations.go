package awstelemetry

import (
	"regexp"
	"strings"

	"github.com/unstuck/unstuck/investigate"
)

// The relations that carry no requests, read from what the describes of
// instances, databases, tables, functions and ECS services already return:
// the security groups attached to them, the KMS keys that encrypt them, the
// IAM roles they assume and the parameters and secrets they read. No call
// is made for them: a security group, key, role or parameter is known by
// its id, name or ARN, which is how CloudTrail's changes name it.

// attachGroup adds a security group and relates it to what it is attached
// to. account is the owner of the resource, for the group's ARN.
func (b *topoBuilder) attachGroup(groupID, name, account, to string) {
	if !strings.HasPrefix(groupID, "sg-") || to == "" {
		return
	}
	r := investigate.Resource{ID: groupID, Type: investigate.TypeSecurityGroup, Name: name}
	if account != "" {
		r.ARN = "arn:" + partitionOf(b.s.c.region) + ":ec2:" + b.s.c.region + ":" + account + ":security-group/" + groupID
	}
	b.add(r)
	b.relate(groupID, to, investigate.RelAttachedTo)
}

// encryptedBy adds the KMS key of an ARN (or a bare key id) and relates it
// to what it encrypts. An alias names no key: it is left out.
func (b *topoBuilder) encryptedBy(key, what string) {
	if key == "" || what == "" || strings.Contains(key, ":alias/") || strings.HasPrefix(key, "alias/") {
		return
	}
	id, arn := key, ""
	if strings.HasPrefix(key, "arn:") {
		i := strings.Index(key, ":key/")
		if i < 0 {
			return
		}
		id, arn = key[i+len(":key/"):], key
	}
	b.add(investigate.Resource{ID: id, Type: investigate.TypeKMSKey, ARN: arn})
	b.relate(id, what, investigate.RelEncrypts)
}

// assumedBy adds the IAM role of an ARN and relates it to what assumes it.
// The role is known by its name, as CloudTrail's roleName names it.
func (b *topoBuilder) assumedBy(roleARN, by string) {
	i := strings.Index(roleARN, ":role/")
	if !strings.HasPrefix(roleARN, "arn:") || i < 0 || by == "" {
		return
	}
	path := roleARN[i+len(":role/"):]
	name := path[strings.LastIndex(path, "/")+1:]
	if name == "" {
		return
	}
	b.add(investigate.Resource{ID: name, Type: investigate.TypeIAMRole, Name: name, ARN: roleARN})
	b.relate(name, by, investigate.RelAssumedBy)
}

// readBy adds the SSM parameter or Secrets Manager secret a reference names
// and relates it to what reads it. account is the reader's, for a
// parameter named without an ARN. It reports whether ref named one.
func (b *topoBuilder) readBy(ref, account, by string) bool {
	r, ok := parameterOf(ref, b.s.c.region, account)
	if !ok || by == "" {
		return false
	}
	b.add(r)
	b.relate(r.ID, by, investigate.RelReadBy)
	return true
}

// secretSuffix is the six characters Secrets Manager appends to a secret's
// name in its ARN.
var secretSuffix = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)

// parameterOf is the parameter or secret a reference names: an SSM
// parameter's ARN, a secret's ARN (a task definition's valueFrom may add
// ":json-key:version-stage:version-id"), or a parameter's name, as ECS
// takes it for a parameter of the same Region. Its id is the parameter's
// or secret's name, which CloudTrail's changes name it by.
func parameterOf(ref, region, account string) (investigate.Resource, bool) {
	switch {
	case strings.HasPrefix(ref, "arn:") && strings.Contains(ref, ":ssm:") && strings.Contains(ref, ":parameter/"):
		rest := ref[strings.Index(ref, ":parameter/")+len(":parameter/"):]
		name := rest
		if strings.Contains(rest, "/") {
			name = "/" + rest
		}
		return investigate.Resource{ID: name, Type: investigate.TypeParameter, Name: name, ARN: ref,
			Config: map[string]string{"store": "ssm"}}, rest != ""
	case strings.HasPrefix(ref, "arn:") && strings.Contains(ref, ":secretsmanager:") && strings.Contains(ref, ":secret:"):
		i := strings.Index(ref, ":secret:")
		full, _, _ := strings.Cut(ref[i+len(":secret:"):], ":")
		name := secretSuffix.ReplaceAllString(full, "")
		if name == "" {
			return investigate.Resource{}, false
		}
		return investigate.Resource{ID: name, Type: investigate.TypeParameter, Name: name, ARN: ref[:i+len(":secret:")] + full,
			Config: map[string]string{"store": "secretsmanager"}}, true
	case strings.HasPrefix(ref, "arn:"):
		return investigate.Resource{}, false
	case ref == "" || strings.ContainsAny(ref, " \t\n,;=?&*"):
		return investigate.Resource{}, false
	}
	r := investigate.Resource{ID: ref, Type: investigate.TypeParameter, Name: ref, Config: map[string]string{"store": "ssm"}}
	if account != "" {
		r.ARN = "arn:" + partitionOf(region) + ":ssm:" + region + ":" + account + ":parameter/" + strings.TrimPrefix(ref, "/")
	}
	return r, true
}

// fileRoots are the first parts of file system paths, which an
// environment value that starts with "/" names more often than a
// parameter.
var fileRoots = map[string]bool{
	"tmp": true, "var": true, "opt": true, "usr": true, "etc": true, "home": true, "mnt": true, "proc": true, "dev": true,
	"bin": true, "sbin": true, "lib": true, "lib64": true, "run": true, "srv": true, "sys": true, "root": true, "efs": true,
	"data": true,
}

// envParameter reports whether an environment value names a parameter or
// secret: an SSM or Secrets Manager ARN, or a hierarchical parameter name
// ("/checkout/prod/db-url") that is no file system path.
func envParameter(v string) bool {
	if strings.HasPrefix(v, "arn:") {
		return strings.Contains(v, ":ssm:") && strings.Contains(v, ":parameter/") ||
			strings.Contains(v, ":secretsmanager:") && strings.Contains(v, ":secret:")
	}
	if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " \t\n,;=?&*:") {
		return false
	}
	parts := strings.Split(strings.TrimPrefix(v, "/"), "/")
	if len(parts) < 2 || fileRoots[parts[0]] {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
	}
	return true
}

// arnAccount is the account of an ARN, or "".
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}
