package handlers

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/unstuck/unstuck/investigate"
)

// The follow-up classifier. A question is cut into words (Slack markup and
// punctuation dropped, lower-cased), a few polite openings are skipped
// ("hey, can you tell me…"), and each intent scores the groups of cue
// words and phrases it finds anywhere in it, so word order does not
// matter. A cue word of five letters or more also matches a word one edit
// away (investigate.EditDistance), so "waht is the root casue" is still a
// question about the cause. The intent with the highest score of at least
// minScore wins; on a tie the one listed first in rules wins, which is the
// priority documented there. Nothing here does I/O, and the same question
// always gets the same intent.

// minScore is the least score an intent needs to be understood.
const minScore = 3

// fuzzyMin is the length from which a cue word matches a typed word one
// edit away; shorter words must match exactly ("log" is not "dog").
const fuzzyMin = 5

// targetUse is what an intent does with a resource named in the question.
type targetUse int

const (
	// noTarget: the intent is about the whole investigation.
	noTarget targetUse = iota
	// anyTarget: the first word that is not a cue or a common word, as
	// the intents took it before ("check payments").
	anyTarget
	// resourceTarget: only a word that looks like a resource — a name in
	// scope, an id or ARN (with a digit, "-", "_", "/", ":" or "."), or a
	// kind of resource ("the database").
	resourceTarget
)

// group is a set of cues worth weight when any of them is in the question.
// A cue is a phrase of words that must follow each other; one starting
// with "^" must open the question (after the polite words).
type group struct {
	weight int
	// need: without one of these cues the intent does not apply at all.
	need bool
	cues [][]string
}

func cues(weight int, need bool, phrases ...string) group {
	g := group{weight: weight, need: need}
	for _, p := range phrases {
		g.cues = append(g.cues, strings.Fields(p))
	}
	return g
}

// rule is how one intent is recognised.
type rule struct {
	kind   string
	groups []group
	target targetUse
	// needTarget: the intent applies only when the question names a
	// resource.
	needTarget bool
}

// changeWords are what people call a change.
const changeWords = "change changes changed changing deploy deploys deployed deploying deployment deployments " +
	"release releases released rollout rollouts roll-out modified modification modifications"

// rules are the intents in priority order: on a tie the first wins. The
// specific come before the general (a question about a deploy before one
// about the cause, the errors before the metrics), and the two that start
// work — a postmortem draft and a rerun — come last.
var rules = []rule{
	{kind: IntentHelpKind, groups: []group{
		cues(4, true, "help", "commands", "what can you do", "what can you answer", "what do you understand", "what can i ask", "how do i use you", "usage"),
	}},
	// "is it the deploy?", "was it the config change?", "did X change?":
	// a yes-or-no question about a change.
	{kind: IntentChangeCheck, target: resourceTarget, groups: []group{
		cues(2, true, "^is", "^was", "^did", "^does", "^do", "^could", "^can", "^might", "^would", "^has", "^have", "^were", "^are",
			"is it", "was it", "is that", "was that", "is this", "was this", "could it", "did it", "related", "responsible",
			"to blame", "blame", "fault", "because of", "due to", "behind", "what about", "how about", "trigger", "triggered", "connected", "right"),
		cues(3, true, append(strings.Fields(changeWords+" update updated updates push pushed config configs configuration migration migrations "+
			"policy policies permission permissions iam parameter parameters param flag flags setting settings security-group sg code "+
			"version ship shipped commit merge merged pr terraform cloudformation rollback revert reverted edit edited touch touched"),
			"security group", "feature flag")...),
	}},
	// "what changed?", "who changed what", "recent deploys".
	{kind: IntentChanges, target: anyTarget, groups: []group{
		cues(3, true, strings.Fields(changeWords+" timeline cloudtrail history")...),
		cues(3, false, strings.Fields("any anything someone somebody anyone who recent recently latest list all")...),
		cues(2, false, "what", "which", "whats", "show"),
	}},
	{kind: IntentUnavailable, groups: []group{
		cues(4, false, "unavailable", "unreadable", "inaccessible", "blind spot", "blind spots", "gaps", "gap", "missing data", "data missing",
			"access denied", "permission denied", "denied", "no access"),
		cues(2, false, "couldnt", "cant", "cannot", "could not", "unable", "not able", "failed", "fail", "missing", "miss", "missed",
			"lacking", "lack", "skip", "skipped", "didnt", "did not"),
		cues(2, false, "read", "access", "see", "reach", "load", "fetch", "get", "data", "sources", "source", "telemetry"),
	}},
	// "what did you check?", "what did you look at?"
	{kind: IntentChecks, groups: []group{
		cues(2, true, "check", "checked", "checks", "checking", "look", "looked", "looking", "examine", "examined", "inspect", "inspected",
			"investigate", "investigated", "analyze", "analyzed", "analyse", "analysed", "cover", "covered", "read", "query", "queried",
			"search", "searched", "consider", "considered", "verify", "verified", "evaluate", "evaluated"),
		cues(2, false, "did you", "have you", "you did", "you have", "youve", "which", "what did", "how did", "so far", "methodology", "process"),
	}},
	// "when did it start?"
	{kind: IntentOnset, groups: []group{
		cues(4, false, "onset", "since when", "start time", "started at", "how long"),
		cues(2, false, "when", "what time", "first"),
		cues(2, false, "start", "started", "starting", "begin", "began", "begun", "kick off", "kicked off", "happen", "happened", "appear", "appeared", "going on"),
	}},
	{kind: IntentConfidence, groups: []group{
		cues(4, true, "how sure", "how confident", "how certain", "confidence", "confident", "certainty", "certain", "sure", "probability",
			"how likely", "likelihood"),
	}},
	// "what's the impact?", "how many users?"
	{kind: IntentImpact, groups: []group{
		cues(4, true, "impact", "impacted", "impacting", "how bad", "severity", "severe", "blast radius", "affected", "affecting", "affect",
			"damage", "how big", "how serious", "serious", "widespread", "how many", "how much", "error rate"),
		cues(1, false, "users", "user", "customers", "customer", "requests", "people", "clients", "traffic"),
	}},
	// "show me the errors", "logs on orders-fn".
	{kind: IntentErrors, target: anyTarget, groups: []group{
		cues(3, true, "errors", "error", "exceptions", "exception", "logs", "log", "stack trace", "stacktrace", "traceback", "failures",
			"5xx", "500s", "4xx", "failing requests"),
		cues(1, false, "show", "see", "give", "top", "sample", "samples", "lines"),
	}},
	{kind: IntentTraces, target: anyTarget, groups: []group{
		cues(3, true, "traces", "trace", "traced", "calls", "^call", "spans", "xray", "x-ray"),
	}},
	// "check orders-table", "how is orders-table doing".
	{kind: IntentCheck, target: anyTarget, groups: []group{
		cues(3, true, "^check", "check", "^inspect", "^how is", "^hows", "^how are", "status of", "metrics", "metric", "look at", "dashboard", "graphs", "graph"),
	}},
	// "what about orders-fn?", "is it the database?"
	{kind: IntentAbout, target: resourceTarget, needTarget: true, groups: []group{
		cues(3, true, "what about", "how about", "about", "is it", "was it", "^is", "^was", "^are", "^and", "anything on", "whats up with",
			"what is up with", "whats with", "going on with", "happening with", "healthy", "fine", "info on", "details on"),
	}},
	// "what should I do?"
	{kind: IntentAction, groups: []group{
		cues(3, true, "should", "fix", "fixes", "fixing", "mitigate", "mitigation", "mitigations", "remediate", "remediation", "recommend",
			"recommendation", "recommendations", "recommended", "suggest", "suggestion", "suggestions", "action", "actions", "workaround",
			"remedy", "next step", "next steps", "next move", "to do", "todo", "what now", "now what", "do we do", "do i do",
			"can we do", "can i do", "the plan", "rollback", "roll back", "revert"),
		cues(1, false, "next", "now", "first", "asap"),
	}},
	// "why?", "what's the root cause?"
	{kind: IntentCause, groups: []group{
		cues(4, true, "why", "cause", "caused", "causing", "root cause", "root-cause", "rca", "culprit", "reason", "what happened",
			"whats wrong", "what is wrong", "what went wrong", "what broke", "whats going on", "what is going on", "explain"),
		cues(1, false, "likely", "most", "main", "probable", "primary", "actual", "real", "root"),
	}},
	{kind: IntentScope, groups: []group{
		cues(3, true, "resources", "topology", "scope", "in scope", "architecture", "dependencies", "around", "dependency graph"),
	}},
	{kind: IntentSummary, groups: []group{
		cues(3, true, "summary", "summarize", "summarise", "tldr", "tl dr", "recap", "report", "status", "overview", "sum up", "gist"),
	}},
	{kind: IntentNotes, groups: []group{
		cues(3, true, "notes", "^note"),
	}},
	{kind: IntentPostmortem, groups: []group{
		cues(4, true, "postmortem", "post-mortem", "post mortem", "writeup", "write-up", "write up", "incident summary", "incident report",
			"retro", "retrospective"),
		cues(1, false, "draft", "write"),
	}},
	{kind: IntentRerun, groups: []group{
		cues(3, true, "rerun", "re-run", "retry", "^again", "wider", "widen", "redo", "reinvestigate", "re-investigate",
			"investigate again", "run again", "try again", "look again", "check again", "start over"),
		// So that "check again" is a rerun, not a check.
		cues(1, false, "again", "over"),
	}},
}

// openers are the polite words a question may start with; they are skipped
// before the cues that must open it are matched.
var openers = [][]string{
	{"hey"}, {"hi"}, {"hello"}, {"yo"}, {"ok"}, {"okay"}, {"so"}, {"um"}, {"uh"}, {"hmm"}, {"btw"}, {"sorry"},
	{"quick", "question"}, {"question"}, {"unstuck"}, {"bot"}, {"please"}, {"pls"}, {"plz"}, {"kindly"}, {"just"}, {"also"},
	{"can", "you"}, {"could", "you"}, {"would", "you"}, {"will", "you"}, {"can", "u"}, {"could", "u"},
	{"tell", "me"}, {"do", "you", "know"}, {"any", "idea"}, {"i", "wonder"}, {"i", "want", "to", "know"},
	{"id", "like", "to", "know"}, {"i", "would", "like", "to", "know"},
}

// stopwords are common words that are never a resource a question names.
var stopwords = setOf(`a an the is are was were be been being it its this that these those there here
what whats which who whom whose when where why how hows do does did done doing have has had having
i im ive me my we were us our you youre your they them their he she him her on in to for of at from by with
about and or but so if then than any some something all just now yet still please pls plz thanks thank thx ty
hey hi hello can could would should will shall may might must tell show give know think see get got go going
up out over into not no yes ok okay really actually exactly very much many more most less least too also like
lol um uh hmm guys folks team there last hour hours minute minutes min mins today yesterday tonight morning
afternoon evening night week day days ago before after during since until recently earlier later window time
period past one ones thing things stuff happening happened happen well look looks looking
thats its whos theres heres wheres dont doesnt isnt wasnt arent werent wont shouldnt wouldnt lets`)

// notTypos are English words one edit away from a cue word that mean
// something else: "who is in charge?" is not about a change.
var notTypos = setOf(`chance chances charge charges charged pause paused sauce season seasons abort auction
track tracks tracked trade upset unset nodes votes vault score scores course decent exited`)

func setOf(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// vocabulary is every cue word and stopword: a word in it is never a
// target.
var vocabulary = func() map[string]bool {
	m := map[string]bool{}
	for w := range stopwords {
		m[w] = true
	}
	for _, r := range rules {
		for _, g := range r.groups {
			for _, c := range g.cues {
				for _, w := range c {
					m[strings.TrimPrefix(w, "^")] = true
				}
			}
		}
	}
	return m
}()

// longCues are the cue words fuzzy matching applies to.
var longCues = func() []string {
	var out []string
	for w := range vocabulary {
		if !stopwords[w] && utf8.RuneCountInString(w) >= fuzzyMin && isWord(w) {
			out = append(out, w)
		}
	}
	return out
}()

// kindWords name kinds of resources; one may stand for a resource in a
// question ("is it the database?").
var kindWords = map[string][]investigate.ResourceType{
	"database": {investigate.TypeDynamoDB, investigate.TypeRDS, investigate.TypeAurora}, "db": {investigate.TypeDynamoDB, investigate.TypeRDS, investigate.TypeAurora},
	"table": {investigate.TypeDynamoDB}, "dynamo": {investigate.TypeDynamoDB}, "dynamodb": {investigate.TypeDynamoDB},
	"rds": {investigate.TypeRDS}, "postgres": {investigate.TypeRDS, investigate.TypeAurora}, "mysql": {investigate.TypeRDS, investigate.TypeAurora},
	"aurora": {investigate.TypeAurora}, "replica": {investigate.TypeRDS},
	"cache": {investigate.TypeElastiCache}, "redis": {investigate.TypeElastiCache}, "elasticache": {investigate.TypeElastiCache}, "memcached": {investigate.TypeElastiCache},
	"volume": {investigate.TypeEBS}, "disk": {investigate.TypeEBS}, "ebs": {investigate.TypeEBS},
	"nat": {investigate.TypeNATGateway}, "topic": {investigate.TypeSNS}, "sns": {investigate.TypeSNS},
	"workflow": {investigate.TypeStepFunctions}, "sfn": {investigate.TypeStepFunctions},
	"sg": {investigate.TypeSecurityGroup}, "firewall": {investigate.TypeSecurityGroup},
	"parameter": {investigate.TypeParameter}, "secret": {investigate.TypeParameter},
	"queue": {investigate.TypeSQS}, "sqs": {investigate.TypeSQS},
	"function": {investigate.TypeLambda}, "lambda": {investigate.TypeLambda},
	"alb": {investigate.TypeALB}, "elb": {investigate.TypeALB}, "balancer": {investigate.TypeALB}, "lb": {investigate.TypeALB},
	"api": {investigate.TypeAPIGateway}, "gateway": {investigate.TypeAPIGateway}, "apigw": {investigate.TypeAPIGateway},
	"instance": {investigate.TypeEC2}, "instances": {investigate.TypeEC2}, "ec2": {investigate.TypeEC2},
	"host": {investigate.TypeEC2}, "hosts": {investigate.TypeEC2}, "server": {investigate.TypeEC2}, "node": {investigate.TypeEC2},
	"asg": {investigate.TypeASG}, "ecs": {investigate.TypeECS}, "cluster": {investigate.TypeECS, investigate.TypeAurora}, "task": {investigate.TypeECSTask, investigate.TypeECS},
	"service": {investigate.TypeService, investigate.TypeECS}, "app": {investigate.TypeService},
	"key": {investigate.TypeKMSKey}, "kms": {investigate.TypeKMSKey},
	"role": {investigate.TypeIAMRole}, "dependency": {investigate.TypeExternal}, "upstream": {investigate.TypeExternal},
}

// token is one word of a question.
type token struct {
	// raw is the word as typed, without the punctuation around it: a
	// target is one of these, so it is always part of the question.
	raw string
	// norm is raw lower-cased, without apostrophes.
	norm string
	// name marks a resource in scope: it is never a cue.
	name bool
}

var markupRe = regexp.MustCompile(`<[@#!][^<>]*>`)

// tokenize cuts a question into words: Slack's mentions and channel links
// dropped, split at spaces and punctuation that is never part of a
// resource's name, and known names (lower-case) marked.
func tokenize(q string, known map[string]bool) []token {
	q = markupRe.ReplaceAllString(q, " ")
	fields := strings.FieldsFunc(q, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(",?!;()[]{}\"“”«»—–…*`~|<>", r)
	})
	var out []token
	for _, f := range fields {
		raw := strings.Trim(f, ".:'‘’")
		if raw == "" {
			continue
		}
		norm := strings.ToLower(strings.NewReplacer("'", "", "’", "", "‘", "").Replace(raw))
		if norm == "" {
			continue
		}
		out = append(out, token{raw: raw, norm: norm, name: known[strings.ToLower(raw)]})
	}
	return out
}

// skipOpeners drops the polite words a question starts with.
func skipOpeners(toks []token) []token {
	for {
		n := len(toks)
		for _, o := range openers {
			if at(toks, 0, o) && len(toks) > len(o) {
				toks = toks[len(o):]
				break
			}
		}
		if len(toks) == n {
			return toks
		}
	}
}

// isWord reports whether s is letters only.
func isWord(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return s != ""
}

// same reports whether a typed word is a cue word: the same, or a typo of
// it — one edit away, both of fuzzyMin letters or more, and not a word of
// its own (a cue word, a common word or one of notTypos).
func same(cue, typed string) bool {
	if cue == typed {
		return true
	}
	return utf8.RuneCountInString(cue) >= fuzzyMin && utf8.RuneCountInString(typed) >= fuzzyMin &&
		isWord(typed) && !vocabulary[typed] && !notTypos[typed] && investigate.EditDistance(cue, typed) <= 1
}

// at reports whether the words of phrase follow each other from toks[i].
func at(toks []token, i int, phrase []string) bool {
	if i+len(phrase) > len(toks) {
		return false
	}
	for j, w := range phrase {
		if toks[i+j].name || !same(w, toks[i+j].norm) {
			return false
		}
	}
	return true
}

// has reports whether the question holds the cue.
func has(toks []token, cue []string) bool {
	if len(cue) > 0 && strings.HasPrefix(cue[0], "^") {
		c := append([]string{strings.TrimPrefix(cue[0], "^")}, cue[1:]...)
		return at(toks, 0, c)
	}
	for i := range toks {
		if at(toks, i, cue) {
			return true
		}
	}
	return false
}

// score is what a rule makes of a question; -1 when it does not apply.
func (r rule) score(toks []token) int {
	s := 0
	for _, g := range r.groups {
		hit := false
		for _, c := range g.cues {
			if has(toks, c) {
				hit = true
				break
			}
		}
		switch {
		case hit:
			s += g.weight
		case g.need:
			return -1
		}
	}
	return s
}

// vocab reports whether a typed word is a cue word or a common word.
func vocab(norm string) bool {
	if vocabulary[norm] {
		return true
	}
	if !isWord(norm) || utf8.RuneCountInString(norm) < fuzzyMin {
		return false
	}
	for _, w := range longCues {
		if same(w, norm) {
			return true
		}
	}
	return false
}

// resourceLike reports whether a word looks like a resource's id, name or
// ARN rather than an English word.
func resourceLike(s string) bool {
	return strings.ContainsAny(s, "-_/:.0123456789")
}

// hasLetterOrDigit reports whether s could name anything.
func hasLetterOrDigit(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}

// target picks the resource a question names: a known name first, else
// the first word that is neither a cue nor a common word; with
// resourceTarget only one that looks like a resource or a kind of one.
func target(toks []token, use targetUse) string {
	if use == noTarget {
		return ""
	}
	for _, t := range toks {
		if t.name {
			return t.raw
		}
	}
	for _, t := range toks {
		if !hasLetterOrDigit(t.norm) {
			continue
		}
		if use == resourceTarget {
			if _, kind := kindWords[t.norm]; kind || (resourceLike(t.norm) && !vocabulary[t.norm]) {
				return t.raw
			}
			continue
		}
		if !vocab(t.norm) {
			return t.raw
		}
	}
	return ""
}

// changeKinds are the kinds of change a change-check question may ask
// about, with the words that ask for each.
var changeKinds = []struct {
	kind  string
	words []string
}{
	{"deploy", strings.Fields("deploy deploys deployed deploying deployment deployments release releases released rollout rollouts roll-out code version ship shipped push pushed commit merge merged pr")},
	{"config", strings.Fields("config configs configuration parameter parameters param flag flags setting settings")},
	{"policy", strings.Fields("policy policies permission permissions iam")},
	{"network", strings.Fields("security-group sg network firewall")},
}

// detail is what narrows an intent's answer: the kind of change a
// change-check asks about, "users" for an impact question about people.
func detail(kind string, toks []token) string {
	switch kind {
	case IntentChangeCheck:
		for _, k := range changeKinds {
			for _, w := range k.words {
				if has(toks, []string{w}) {
					return k.kind
				}
			}
		}
		if has(toks, []string{"security", "group"}) {
			return "network"
		}
	case IntentImpact:
		for _, w := range []string{"users", "user", "customers", "customer", "people", "clients"} {
			if has(toks, []string{w}) {
				return "users"
			}
		}
	}
	return ""
}

// ParseIntent understands a follow-up question.
func ParseIntent(q string) Intent { return parseIntent(q, nil) }

// parseIntent understands a follow-up question about an investigation
// whose resources (ids and names) are known: a word that names one is
// taken as the resource asked about, never as a cue ("reports" is a
// resource, not "report").
func parseIntent(q string, known []string) Intent {
	if strings.TrimSpace(q) == "?" {
		return Intent{Kind: IntentHelpKind}
	}
	names := make(map[string]bool, len(known))
	for _, k := range known {
		if k = strings.ToLower(strings.TrimSpace(k)); k != "" {
			names[k] = true
		}
	}
	toks := skipOpeners(tokenize(q, names))
	if len(toks) == 0 {
		return Intent{}
	}
	// A resource alone: what about it?
	if len(toks) == 1 && (toks[0].name || resourceLike(toks[0].norm) && hasLetterOrDigit(toks[0].norm) && !vocab(toks[0].norm)) {
		return Intent{Kind: IntentAbout, Target: toks[0].raw}
	}
	best, bestScore := -1, minScore-1
	var bestTarget string
	for i, r := range rules {
		s := r.score(toks)
		if s <= bestScore {
			continue
		}
		t := target(toks, r.target)
		if r.needTarget && t == "" {
			continue
		}
		best, bestScore, bestTarget = i, s, t
	}
	if best < 0 {
		return Intent{}
	}
	kind := rules[best].kind
	return Intent{Kind: kind, Target: bestTarget, Detail: detail(kind, toks)}
}
