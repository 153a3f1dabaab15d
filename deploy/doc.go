// Package deploy holds the ways to run unstuck (docs/deploying.md): the
// CloudFormation templates for ECS Fargate and the cross-account read role
// (cloudformation/), the Helm chart (helm/unstuck/) and the systemd unit
// (systemd/). It has no Go code of its own; its tests hold those files to
// the contracts they share with the bot: the read-only IAM policy in
// docs/iam-policy.json, the DynamoDB table in docs/store.md, the health
// endpoints, a non-root user and the Slack tokens kept as secrets.
package deploy
