package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrInUse is a store file another process holds: a bot serving from it
// (one process per file). Check cannot read it then, which is no fault of
// the file's.
var ErrInUse = errors.New("the file is in use by another process (a bot serving from it)")

// ErrNoFile is a store file that does not exist yet: bot serve creates it.
var ErrNoFile = errors.New("the file does not exist yet (bot serve creates it)")

// Check looks at the store a --store value names without writing to it,
// for bot doctor: a file is opened read-only and checked the way Open
// checks it (a damaged one is a *DamagedError with the recovery steps); a
// missing file is ErrNoFile and one a running bot holds is ErrInUse; a
// DynamoDB table is described (with the standard AWS configuration, as
// Open reads it) and must be active with the key schema of docs/store.md.
// It returns what it found, in a few words.
func Check(ctx context.Context, spec string) (string, error) {
	sp, err := ParseSpec(spec)
	if err != nil {
		return "", err
	}
	if sp.Table == "" {
		return checkBolt(sp.Path)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "", fmt.Errorf("store dynamodb://%s: AWS configuration: %w", sp.Table, err)
	}
	return checkDynamo(ctx, dynamodb.NewFromConfig(cfg), sp.Table)
}

func checkBolt(path string) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("store %s: %w", path, ErrNoFile)
	}
	var db *bolt.DB
	err := guard(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		return err
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return "", fmt.Errorf("store %s: %w", path, ErrInUse)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), isPanic(err):
		return "", &DamagedError{Path: path, Err: err}
	case err != nil:
		return "", fmt.Errorf("store %s: %w", path, err)
	}
	defer db.Close()
	if err := verify(db); err != nil {
		return "", &DamagedError{Path: path, Err: err}
	}
	threads := 0
	_ = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bInv); b != nil {
				threads = b.Stats().KeyN
			}
			return nil
		})
	})
	return fmt.Sprintf("%s: consistent, %d investigations", path, threads), nil
}

func checkDynamo(ctx context.Context, api DynamoAPI, table string) (string, error) {
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return "", fmt.Errorf("store dynamodb://%s: the table does not exist (bot serve --store-create creates it; key schema in docs/store.md): %w", table, err)
	case err != nil:
		return "", fmt.Errorf("store dynamodb://%s: %w", table, err)
	}
	if err := checkSchema(out.Table); err != nil {
		return "", fmt.Errorf("store dynamodb://%s: %w", table, err)
	}
	if st := out.Table.TableStatus; st != types.TableStatusActive {
		return "", fmt.Errorf("store dynamodb://%s: the table is %s, not ACTIVE", table, st)
	}
	return fmt.Sprintf("dynamodb://%s: active, key schema PK/SK", table), nil
}
