package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// DynamoAPI is the part of *dynamodb.Client a Dynamo store uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// Dynamo is a Store in one DynamoDB table, shared by any number of
// replicas. It uses GetItem, PutItem, UpdateItem, DeleteItem, Query and
// BatchWriteItem (and DescribeTable, CreateTable and UpdateTimeToLive to
// create the table), no transactions and no index.
//
// Key schema: a string partition key PK and a string sort key SK; TTL on the
// number attribute "expires" (Unix seconds). Items:
//
//	what                  PK                       SK                              other attributes
//	investigation         T#<channel>#<thread_ts>  INV                             ch, ts, state, started, data (JSON) or dataz (gzip JSON, when large), notes (count)
//	note                  T#<channel>#<thread_ts>  NOTE#<seq, 10 digits>           data (investigate.Note as JSON)
//	feedback              T#<channel>#<thread_ts>  FB#<hypothesis, 6 digits>       data (incident.Feedback as JSON)
//	channel index         C#<channel>              <started>#<thread_ts>           ch, ts
//	active (in flight)    ACTIVE                   <channel>#<thread_ts>           ch, ts, v (a token new with every Put)
//	event claim           E#<event key>            E                               until (Unix ms), expires
//	lease                 L#<lease key>            L                               owner, until (Unix ms), expires
//	kept event (inbox)    INBOX                    <event key>                     data (incident.Event as JSON), retries
//
// <started> is the start in UTC as 2006-01-02T15:04:05.000000000Z, so that
// the sort key orders by time. Thread returns a thread's partition in one
// consistent Query; Recent queries the channel's index from since on; an
// investigation's notes are numbered by an atomic counter on its INV item,
// so they keep the order they were added in. Put writes the channel index
// and the ACTIVE marker before the investigation and deletes stale ones
// after it, so a crash in between leaves an extra entry that readers check
// against the investigation and skip (Interrupted deletes stale markers),
// never a missing one.
//
// Claims and leases are conditional PutItems (attribute_not_exists(PK), or
// expired by the "until" the caller's clock gives, or for a lease the same
// owner): of concurrent writers exactly one succeeds. Expiry is decided by
// "until", so the store is right before DynamoDB's TTL (which may take a
// day or two) deletes the item; "expires" is "until" in seconds, rounded up.
// Investigations, notes and feedback do not expire.
type Dynamo struct {
	api   DynamoAPI
	table string
	ttl   time.Duration
	now   func() time.Time
}

var _ Store = (*Dynamo)(nil)

// dataMax is the largest investigation kept as plain JSON; larger ones are
// gzipped (an item holds at most 400 KB).
const dataMax = 64 << 10

// OpenDynamo opens the store in table, which has the key schema Dynamo
// describes. With opts.CreateTable, a missing table is created (on-demand
// capacity) with TTL on "expires"; without it, a missing table is an error.
func OpenDynamo(ctx context.Context, api DynamoAPI, table string, opts Options) (*Dynamo, error) {
	opts = opts.withDefaults()
	d := &Dynamo{api: api, table: table, ttl: opts.ClaimTTL, now: opts.Now}
	if err := d.ensureTable(ctx, opts.CreateTable); err != nil {
		return nil, fmt.Errorf("store dynamodb://%s: %w", table, err)
	}
	return d, nil
}

// Table is the store's table.
func (d *Dynamo) Table() string { return d.table }

// Close implements Store; a Dynamo store holds nothing to release.
func (d *Dynamo) Close() error { return nil }

func (d *Dynamo) ensureTable(ctx context.Context, create bool) error {
	out, err := d.api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &d.table})
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
		if err := checkSchema(out.Table); err != nil {
			return err
		}
		if out.Table.TableStatus == types.TableStatusActive {
			return nil
		}
	case errors.As(err, &nf) && create:
		_, err = d.api.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName: &d.table,
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String("SK"), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange},
			},
			BillingMode: types.BillingModePayPerRequest,
		})
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) { // another replica is creating it
			return fmt.Errorf("creating the table: %w", err)
		}
	case errors.As(err, &nf):
		return fmt.Errorf("the table does not exist (create it with the key schema in docs/store.md, or let the bot create it): %w", err)
	default:
		return err
	}
	if err := d.waitActive(ctx); err != nil {
		return err
	}
	if !create {
		return nil
	}
	_, err = d.api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: &d.table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String("expires"),
			Enabled:       aws.Bool(true),
		},
	})
	var api smithy.APIError
	if err != nil && errors.As(err, &api) {
		switch api.ErrorCode() {
		case "UnknownOperationException": // a local server without TTL; expiry is checked on read anyway
			return nil
		case "ValidationException":
			if strings.Contains(api.ErrorMessage(), "already enabled") {
				return nil
			}
		}
	}
	if err != nil {
		return fmt.Errorf("enabling TTL on \"expires\": %w", err)
	}
	return nil
}

func checkSchema(t *types.TableDescription) error {
	want := map[string]types.KeyType{"PK": types.KeyTypeHash, "SK": types.KeyTypeRange}
	if t == nil || len(t.KeySchema) != 2 {
		return errors.New("the table's key schema is not PK (hash, string) and SK (range, string)")
	}
	for _, k := range t.KeySchema {
		if want[aws.ToString(k.AttributeName)] != k.KeyType {
			return errors.New("the table's key schema is not PK (hash, string) and SK (range, string)")
		}
	}
	return nil
}

func (d *Dynamo) waitActive(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		out, err := d.api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &d.table})
		if err == nil && out.Table.TableStatus == types.TableStatusActive {
			return checkSchema(out.Table)
		}
		var nf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the table to be active: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) (int64, bool) {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		i, err := strconv.ParseInt(v.Value, 10, 64)
		return i, err == nil
	}
	return 0, false
}

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": s(pk), "SK": s(sk)}
}

func threadPK(channel, threadTS string) string { return "T#" + channel + "#" + threadTS }

const (
	skInv   = "INV"
	pkAct   = "ACTIVE"
	skNote  = "NOTE#"
	skFB    = "FB#"
	skClaim = "E"
	skLease = "L"
	pkInbox = "INBOX"
)

func conditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

// untilAttrs are the "until" (ms) and "expires" (s, rounded up) of t.
func untilAttrs(t time.Time) (types.AttributeValue, types.AttributeValue) {
	ms := t.UnixMilli()
	return n(ms), n((ms + 999) / 1000)
}

// Claim implements Store.
func (d *Dynamo) Claim(ctx context.Context, k string) (bool, error) {
	first, err := d.claim(ctx, k)
	if err != nil {
		return false, fmt.Errorf("store: claim: %w", err)
	}
	return first, nil
}

func (d *Dynamo) claim(ctx context.Context, k string) (bool, error) {
	now := d.now()
	until, expires := untilAttrs(now.Add(d.ttl))
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &d.table,
		Item: map[string]types.AttributeValue{
			"PK": s("E#" + k), "SK": s(skClaim), "until": until, "expires": expires,
		},
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR #until <= :now"),
		ExpressionAttributeNames:  map[string]string{"#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(now.UnixMilli())},
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// Receive implements incident.Inbox: the claim, then the kept event. A
// crash between the two writes loses the event as it would have been lost
// without an inbox; the reverse order would keep the event of a duplicate
// delivery.
func (d *Dynamo) Receive(ctx context.Context, ev incident.Event) (bool, error) {
	name, data, err := encodeData(ev)
	if err != nil {
		return false, fmt.Errorf("store: receive %s: %w", ev.Key, err)
	}
	first, err := d.claim(ctx, ev.Key)
	if err != nil || !first {
		if err != nil {
			err = fmt.Errorf("store: receive %s: %w", ev.Key, err)
		}
		return false, err
	}
	_, err = d.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &d.table,
		Item:      map[string]types.AttributeValue{"PK": s(pkInbox), "SK": s(ev.Key), name: data, "retries": n(int64(ev.Retries))},
	})
	if err != nil {
		return false, fmt.Errorf("store: receive %s: %w", ev.Key, err)
	}
	return true, nil
}

// Handled implements incident.Inbox.
func (d *Dynamo) Handled(ctx context.Context, k string) error {
	_, err := d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &d.table, Key: itemKey(pkInbox, k)})
	if err != nil {
		return fmt.Errorf("store: handled %s: %w", k, err)
	}
	return nil
}

// inboxEvent decodes a kept event.
func inboxEvent(item map[string]types.AttributeValue) (incident.Event, error) {
	var ev incident.Event
	if err := decodeData(item, &ev); err != nil {
		return ev, err
	}
	if r, ok := getN(item, "retries"); ok {
		ev.Retries = int(r)
	}
	return ev, nil
}

// Unhandled implements incident.Inbox. The inbox is one partition: it
// holds only the events in hand, a few per replica.
func (d *Dynamo) Unhandled(ctx context.Context, before time.Time) ([]incident.Event, error) {
	now := d.now()
	var kept []incident.Event
	err := d.partition(ctx, pkInbox, func(item map[string]types.AttributeValue) error {
		ev, err := inboxEvent(item)
		if err == nil && ev.Received.Before(before) {
			kept = append(kept, ev)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: unhandled: %w", err)
	}
	var out []incident.Event
	for _, ev := range kept {
		h, err := d.held(ctx, incident.EventLeaseKey(ev.Key), now)
		if err != nil {
			return nil, fmt.Errorf("store: unhandled: %w", err)
		}
		if !h {
			out = append(out, ev)
		}
	}
	incident.SortEvents(out)
	return out, nil
}

// Retry implements incident.Inbox.
func (d *Dynamo) Retry(ctx context.Context, k string) (incident.Event, bool, error) {
	out, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.table,
		Key:                       itemKey(pkInbox, k),
		UpdateExpression:          aws.String("ADD retries :one"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return incident.Event{}, false, nil
	}
	if err != nil {
		return incident.Event{}, false, fmt.Errorf("store: retry %s: %w", k, err)
	}
	ev, err := inboxEvent(out.Attributes)
	if err != nil {
		return incident.Event{}, false, fmt.Errorf("store: retry %s: %w", k, err)
	}
	return ev, true, nil
}

func encodeData(v any) (name string, av types.AttributeValue, err error) {
	var b []byte
	if inv, ok := v.(incident.Investigation); ok {
		b, err = marshalInv(inv)
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return "", nil, err
	}
	if len(b) <= dataMax {
		return "data", s(string(b)), nil
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	if err := w.Close(); err != nil {
		return "", nil, err
	}
	return "dataz", &types.AttributeValueMemberB{Value: z.Bytes()}, nil
}

func decodeData(item map[string]types.AttributeValue, v any) error {
	if d, ok := item["data"].(*types.AttributeValueMemberS); ok {
		return json.Unmarshal([]byte(d.Value), v)
	}
	if d, ok := item["dataz"].(*types.AttributeValueMemberB); ok {
		r, err := gzip.NewReader(bytes.NewReader(d.Value))
		if err != nil {
			return err
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, v)
	}
	return fmt.Errorf("item %s/%s has no data", getS(item, "PK"), getS(item, "SK"))
}

// batchWrite writes reqs (at most 25) with BatchWriteItem, retrying what
// DynamoDB leaves unprocessed.
func (d *Dynamo) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	items := map[string][]types.WriteRequest{d.table: reqs}
	for attempt := 0; ; attempt++ {
		out, err := d.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: items})
		if err != nil {
			return err
		}
		if len(out.UnprocessedItems[d.table]) == 0 {
			return nil
		}
		if attempt == 8 {
			return errors.New("batch write: items left unprocessed after retries")
		}
		items = out.UnprocessedItems
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(10<<attempt) * time.Millisecond):
		}
	}
}

func putReq(item map[string]types.AttributeValue) types.WriteRequest {
	return types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
}

func delReq(pk, sk string) types.WriteRequest {
	return types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: itemKey(pk, sk)}}
}

func (d *Dynamo) indexSK(started time.Time, threadTS string) string {
	return timeKey(started) + "#" + threadTS
}

// Put implements incident.Store: it keeps the thread's notes and feedback.
func (d *Dynamo) Put(ctx context.Context, inv incident.Investigation) error {
	inv.Notes, inv.Feedback = nil, nil
	name, data, err := encodeData(inv)
	if err != nil {
		return fmt.Errorf("store: put: %w", err)
	}
	other := "dataz"
	if name == "dataz" {
		other = "data"
	}
	ids := map[string]types.AttributeValue{"ch": s(inv.Channel), "ts": s(inv.ThreadTS)}
	with := func(pk, sk string) map[string]types.AttributeValue {
		m := itemKey(pk, sk)
		for k, v := range ids {
			m[k] = v
		}
		return m
	}
	pre := []types.WriteRequest{putReq(with("C#"+inv.Channel, d.indexSK(inv.Started, inv.ThreadTS)))}
	if inv.State.Active() {
		// v changes with every Put, so that Interrupted deletes a stale
		// marker only if no Put has written it since it read it.
		m := with(pkAct, inv.Channel+"#"+inv.ThreadTS)
		m["v"] = s(rand.Text())
		pre = append(pre, putReq(m))
	}
	if err := d.batchWrite(ctx, pre); err != nil {
		return fmt.Errorf("store: put: %w", err)
	}
	out, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        &d.table,
		Key:              itemKey(threadPK(inv.Channel, inv.ThreadTS), skInv),
		UpdateExpression: aws.String("SET #data = :data, ch = :ch, ts = :ts, #state = :state, started = :started REMOVE #other"),
		ExpressionAttributeNames: map[string]string{
			"#data": name, "#other": other, "#state": "state",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":data": data, ":ch": ids["ch"], ":ts": ids["ts"], ":state": s(string(inv.State)), ":started": s(timeKey(inv.Started)),
		},
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return fmt.Errorf("store: put: %w", err)
	}
	var post []types.WriteRequest
	if old := getS(out.Attributes, "started"); old != "" && old != timeKey(inv.Started) {
		post = append(post, delReq("C#"+inv.Channel, old+"#"+inv.ThreadTS))
	}
	if !inv.State.Active() && incident.State(getS(out.Attributes, "state")).Active() {
		post = append(post, delReq(pkAct, inv.Channel+"#"+inv.ThreadTS))
	}
	if err := d.batchWrite(ctx, post); err != nil {
		return fmt.Errorf("store: put: %w", err)
	}
	return nil
}

// partition calls each for every item of partition pk, in sort-key order,
// with consistent reads; an error from each stops the walk and is returned.
func (d *Dynamo) partition(ctx context.Context, pk string, each func(item map[string]types.AttributeValue) error) error {
	p := dynamodb.NewQueryPaginator(d.api, &dynamodb.QueryInput{
		TableName:                 &d.table,
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk)},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, item := range page.Items {
			if err := each(item); err != nil {
				return err
			}
		}
	}
	return nil
}

// Thread implements incident.Store. A thread's feedback comes ordered by
// hypothesis.
func (d *Dynamo) Thread(ctx context.Context, channel, threadTS string) (incident.Investigation, error) {
	var inv incident.Investigation
	found := false
	var notes []investigate.Note
	var fb []incident.Feedback
	err := d.partition(ctx, threadPK(channel, threadTS), func(item map[string]types.AttributeValue) error {
		switch sk := getS(item, "SK"); {
		case sk == skInv:
			found = true
			return decodeData(item, &inv)
		case strings.HasPrefix(sk, skNote):
			var note investigate.Note
			err := decodeData(item, &note)
			notes = append(notes, note)
			return err
		case strings.HasPrefix(sk, skFB):
			var f incident.Feedback
			err := decodeData(item, &f)
			fb = append(fb, f)
			return err
		}
		return nil
	})
	if err != nil {
		return inv, fmt.Errorf("store: thread %s/%s: %w", channel, threadTS, err)
	}
	if !found {
		return incident.Investigation{}, fmt.Errorf("store: thread %s/%s: %w", channel, threadTS, incident.ErrNotFound)
	}
	sortFeedback(fb)
	inv.Notes, inv.Feedback = notes, fb
	return inv, nil
}

// Recent implements incident.Store.
func (d *Dynamo) Recent(ctx context.Context, channel string, since time.Time) ([]incident.Investigation, error) {
	var threads []string
	p := dynamodb.NewQueryPaginator(d.api, &dynamodb.QueryInput{
		TableName:              &d.table,
		KeyConditionExpression: aws.String("PK = :pk AND SK >= :since"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s("C#" + channel), ":since": s(timeKey(since)),
		},
		ScanIndexForward: aws.Bool(false),
		ConsistentRead:   aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: recent %s: %w", channel, err)
		}
		for _, item := range page.Items {
			threads = append(threads, getS(item, "ts"))
		}
	}
	invs, err := d.threads(ctx, channel, threads)
	if err != nil {
		return nil, fmt.Errorf("store: recent %s: %w", channel, err)
	}
	out := invs[:0]
	for _, inv := range invs {
		if !inv.Started.Before(since) {
			out = append(out, inv)
		}
	}
	sortRecent(out)
	return out, nil
}

// threads reads the investigations of threads of a channel, a few at a
// time, and leaves out the ones not found.
func (d *Dynamo) threads(ctx context.Context, channel string, threads []string) ([]incident.Investigation, error) {
	invs := make([]incident.Investigation, len(threads))
	ok := make([]bool, len(threads))
	errs := make([]error, len(threads))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, ts := range threads {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			inv, err := d.Thread(ctx, channel, ts)
			switch {
			case err == nil:
				invs[i], ok[i] = inv, true
			case !errors.Is(err, incident.ErrNotFound):
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := invs[:0]
	seen := map[string]bool{}
	for i, inv := range invs {
		if ok[i] && !seen[inv.ThreadTS] {
			seen[inv.ThreadTS] = true
			out = append(out, inv)
		}
	}
	return out, nil
}

// AddNote implements incident.Store.
func (d *Dynamo) AddNote(ctx context.Context, channel, threadTS string, note investigate.Note) error {
	pk := threadPK(channel, threadTS)
	out, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.table,
		Key:                       itemKey(pk, skInv),
		UpdateExpression:          aws.String("ADD notes :one"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if conditionFailed(err) {
		err = incident.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: add note %s/%s: %w", channel, threadTS, err)
	}
	seq, _ := getN(out.Attributes, "notes")
	name, data, err := encodeData(note)
	if err == nil {
		item := itemKey(pk, fmt.Sprintf("%s%010d", skNote, seq))
		item[name] = data
		_, err = d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.table, Item: item})
	}
	if err != nil {
		return fmt.Errorf("store: add note %s/%s: %w", channel, threadTS, err)
	}
	return nil
}

// SetFeedback implements incident.Store.
func (d *Dynamo) SetFeedback(ctx context.Context, channel, threadTS string, f incident.Feedback) error {
	pk := threadPK(channel, threadTS)
	got, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:            &d.table,
		Key:                  itemKey(pk, skInv),
		ProjectionExpression: aws.String("PK"),
		ConsistentRead:       aws.Bool(true),
	})
	if err == nil && got.Item == nil {
		err = incident.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: feedback %s/%s: %w", channel, threadTS, err)
	}
	name, data, err := encodeData(f)
	if err == nil {
		item := itemKey(pk, fmt.Sprintf("%s%06d", skFB, f.Hypothesis))
		item[name] = data
		_, err = d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.table, Item: item})
	}
	if err != nil {
		return fmt.Errorf("store: feedback %s/%s: %w", channel, threadTS, err)
	}
	return nil
}

// Acquire implements Leases.
func (d *Dynamo) Acquire(ctx context.Context, k, owner string, ttl time.Duration) (bool, error) {
	now := d.now()
	until, expires := untilAttrs(now.Add(ttl))
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &d.table,
		Item: map[string]types.AttributeValue{
			"PK": s("L#" + k), "SK": s(skLease), "owner": s(owner), "until": until, "expires": expires,
		},
		ConditionExpression:      aws.String("attribute_not_exists(PK) OR #until <= :now OR #owner = :owner"),
		ExpressionAttributeNames: map[string]string{"#until": "until", "#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": n(now.UnixMilli()), ":owner": s(owner),
		},
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: acquire %s: %w", k, err)
	}
	return true, nil
}

// Renew implements Leases.
func (d *Dynamo) Renew(ctx context.Context, k, owner string, ttl time.Duration) (bool, error) {
	now := d.now()
	until, expires := untilAttrs(now.Add(ttl))
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &d.table,
		Key:                      itemKey("L#"+k, skLease),
		UpdateExpression:         aws.String("SET #until = :until, expires = :expires"),
		ConditionExpression:      aws.String("#owner = :owner AND #until > :now"),
		ExpressionAttributeNames: map[string]string{"#until": "until", "#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": until, ":expires": expires, ":now": n(now.UnixMilli()), ":owner": s(owner),
		},
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: renew %s: %w", k, err)
	}
	return true, nil
}

// Release implements Leases.
func (d *Dynamo) Release(ctx context.Context, k, owner string) error {
	_, err := d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &d.table,
		Key:                       itemKey("L#"+k, skLease),
		ConditionExpression:       aws.String("#owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": s(owner)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("store: release %s: %w", k, err)
	}
	return nil
}

// held reports whether someone holds lease k now.
func (d *Dynamo) held(ctx context.Context, k string, now time.Time) (bool, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.table,
		Key:            itemKey("L#"+k, skLease),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, err
	}
	until, ok := getN(out.Item, "until")
	return ok && now.UnixMilli() < until, nil
}

// Interrupted implements Store. It deletes ACTIVE markers whose
// investigation is no longer queued or running.
func (d *Dynamo) Interrupted(ctx context.Context) ([]incident.Investigation, error) {
	now := d.now()
	type ref struct{ ch, ts, v string }
	var refs []ref
	err := d.partition(ctx, pkAct, func(item map[string]types.AttributeValue) error {
		refs = append(refs, ref{getS(item, "ch"), getS(item, "ts"), getS(item, "v")})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: interrupted: %w", err)
	}
	var out []incident.Investigation
	for _, r := range refs {
		inv, err := d.Thread(ctx, r.ch, r.ts)
		if err != nil && !errors.Is(err, incident.ErrNotFound) {
			return nil, fmt.Errorf("store: interrupted: %w", err)
		}
		if err != nil || !inv.State.Active() {
			// A crash between Put's writes left the marker: it is stale,
			// unless a Put has written it again since it was read.
			_, err := d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName:                 &d.table,
				Key:                       itemKey(pkAct, r.ch+"#"+r.ts),
				ConditionExpression:       aws.String("v = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": s(r.v)},
			})
			if err != nil && !conditionFailed(err) {
				return nil, fmt.Errorf("store: interrupted: %w", err)
			}
			continue
		}
		h, err := d.held(ctx, LeaseKey(r.ch, r.ts), now)
		if err != nil {
			return nil, fmt.Errorf("store: interrupted: %w", err)
		}
		if !h {
			out = append(out, inv)
		}
	}
	sortOldest(out)
	return out, nil
}
