package redact

import "regexp"

// vendorTokenRE matches the API keys and tokens whose prefix names their
// vendor, after the public rule sets of secret scanners (gitleaks,
// trufflehog, GitHub secret scanning): source hosts, clouds, payment,
// messaging and model providers. The prefix makes each one safe to match
// anywhere a word starts.
var vendorTokenRE = regexp.MustCompile(`\b(?:` +
	// Source hosts and CI.
	`gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|` +
	`gl(?:pat|dt|rt|rtr|ptt|soat|cbt|oas|imt|ft|agent|ffct|wt)-[A-Za-z0-9_\-]{20,}|GR1348941[A-Za-z0-9_\-]{20,}|` +
	`bkua_[a-f0-9]{40}|CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}|sgp_(?:[a-f0-9]{16}_)?[a-f0-9]{40}|` +
	`glc_[A-Za-z0-9+/]{32,}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|` +
	// Model providers.
	`sk-(?:proj-|live-|ant-|admin-|svcacct-)?[A-Za-z0-9_\-]{20,}|hf_[A-Za-z]{30,}|api_org_[A-Za-z]{30,}|r8_[A-Za-z0-9]{37}|` +
	`gsk_[A-Za-z0-9]{48,}|pplx-[A-Za-z0-9]{40,}|xai-[A-Za-z0-9]{60,}|` +
	// Payment.
	`[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,}|sq0(?:atp|csp)-[A-Za-z0-9_\-]{22,}|EAA[A-Z][A-Za-z0-9_\-]{40,}|` +
	`shippo_(?:live|test)_[a-f0-9]{40}|FLW(?:SECK|PUBK)_(?:TEST|LIVE)?-[a-h0-9]{32}-X|duffel_(?:test|live)_[A-Za-z0-9_\-=]{43}|` +
	`EZ[AT]K[A-Za-z0-9]{54}|(?:live|test)_[a-f0-9]{35}\b|` +
	// Google, Azure, Alibaba, DigitalOcean, Heroku, Fly, Netlify, Cloudflare.
	`AIza[0-9A-Za-z_\-]{35}|GOCSPX-[A-Za-z0-9_\-]{28}|ya29\.[A-Za-z0-9_\-]{30,}|1//0[A-Za-z0-9_\-]{40,}|` +
	`[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}|LTAI[A-Za-z0-9]{20}|do[opr]_v1_[a-f0-9]{64}|HRKU-[A-Za-z0-9_\-]{40,}|` +
	`fo1_[A-Za-z0-9_\-]{43}|fm[12][ar]?_[A-Za-z0-9+/=_\-]{40,}|nfp_[A-Za-z0-9]{36}|v1\.0-[a-f0-9]{24}-[a-f0-9]{146}|` +
	`ABSK[A-Za-z0-9+/=]{40,}|` +
	// Messaging and mail.
	`SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}|SK[0-9a-fA-F]{32}|key-[0-9a-zA-Z]{32}|[0-9a-f]{32}-us[0-9]{1,2}\b|` +
	`xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}|[0-9]{8,10}:AA[A-Za-z0-9_\-]{33}|[MN][A-Za-z0-9]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}|` +
	// Package registries.
	`npm_[A-Za-z0-9]{36}|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}|rubygems_[a-f0-9]{48}|CLOJARS_[a-z0-9]{60}|dckr_pat_[A-Za-z0-9_\-]{27,}|` +
	`AKCp[A-Za-z0-9]{69}|` +
	// Secret stores and infrastructure.
	`hv[sbr]\.[A-Za-z0-9_\-]{24,}|[a-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,70}|dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}|` +
	`pul-[a-f0-9]{40}|ops_eyJ[A-Za-z0-9+/=_\-]{40,}|AGE-SECRET-KEY-1[0-9A-Z]{58}|tskey-[a-z]+-[A-Za-z0-9]{6,}-[A-Za-z0-9]{20,}|` +
	`sha256~[A-Za-z0-9_\-]{43}|pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-.=]{32,64}|sbp_[a-f0-9]{40}|sb_secret_[A-Za-z0-9_\-]{20,}|` +
	`dapi[a-f0-9]{32}(?:-[0-9])?|dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}|` +
	// Observability and SaaS.
	`NRAK-[A-Z0-9]{27}|NRII-[A-Za-z0-9_\-]{32}|NRJS-[a-f0-9]{19}|sntr(?:ys|yu|s|u)_[A-Za-z0-9+/=_\-]{30,}|` +
	`AT[AC]TT3[A-Za-z0-9_\-=]{50,}|lin_(?:api|oauth)_[A-Za-z0-9]{40}|ntn_[A-Za-z0-9]{40,}|secret_[A-Za-z0-9]{43}|` +
	`pnu_[A-Za-z0-9]{36}|rdme_[a-z0-9]{70}|fio-u-[A-Za-z0-9_\-=]{64}|pat[A-Za-z0-9]{14}\.[a-f0-9]{64}|CFPAT-[A-Za-z0-9_\-]{43}|` +
	`[sp]k\.eyJ[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{20,}|tfp_[A-Za-z0-9_\-.=]{59}|ico-[A-Za-z0-9]{32}|s-s4t2[ua]d-[a-f0-9]{64}|` +
	`tk-us-[A-Za-z0-9_\-]{48}|p8e-[A-Za-z0-9]{32}|figd_[A-Za-z0-9_\-]{40}|rnd_[A-Za-z0-9]{32}|` +
	`PMAK-[a-f0-9]{24}-[a-f0-9]{34}|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}` +
	`)`)
