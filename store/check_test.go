package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/unstuck/unstuck/store/storetest"
)

// Check reads a store file without writing it: a good file is consistent
// and counted, a missing one and one a bot holds say so, and a damaged one
// is a *DamagedError with the recovery steps, each time leaving the file
// as it was.
func TestCheckBolt(t *testing.T) {
	ctx := context.Background()
	t.Run("good", func(t *testing.T) {
		path := filledFile(t)
		before := mustStat(t, path)
		got, err := Check(ctx, path)
		if err != nil || !strings.Contains(got, "consistent, 200 investigations") {
			t.Errorf("Check = %q, %v", got, err)
		}
		if after := mustStat(t, path); !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size() {
			t.Error("Check wrote to the file")
		}
	})
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "unstuck.db")
		if _, err := Check(ctx, path); !errors.Is(err, ErrNoFile) {
			t.Errorf("Check = %v, want ErrNoFile", err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Error("Check created the file")
		}
	})
	t.Run("in use", func(t *testing.T) {
		path := filledFile(t)
		s, err := OpenBolt(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := Check(ctx, path); !errors.Is(err, ErrInUse) {
			t.Errorf("Check = %v, want ErrInUse", err)
		}
	})
	for _, damage := range storetest.Damages {
		t.Run("damaged/"+damage, func(t *testing.T) {
			path := filledFile(t)
			if err := storetest.Damage(path, damage); err != nil {
				t.Fatal(err)
			}
			_, err := Check(ctx, path)
			var dmg *DamagedError
			if !errors.As(err, &dmg) || !strings.Contains(err.Error(), "bbolt compact") {
				t.Errorf("Check = %v, want a DamagedError with the recovery steps", err)
			}
		})
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// describeOnly is a DynamoDB that answers DescribeTable only, as Check
// calls nothing else.
type describeOnly struct {
	DynamoAPI
	out *dynamodb.DescribeTableOutput
	err error
}

func (d describeOnly) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return d.out, d.err
}

func TestCheckDynamo(t *testing.T) {
	table := func(status types.TableStatus, keys ...string) *dynamodb.DescribeTableOutput {
		td := &types.TableDescription{TableStatus: status}
		for i, k := range keys {
			kt := types.KeyTypeHash
			if i > 0 {
				kt = types.KeyTypeRange
			}
			td.KeySchema = append(td.KeySchema, types.KeySchemaElement{AttributeName: aws.String(k), KeyType: kt})
		}
		return &dynamodb.DescribeTableOutput{Table: td}
	}
	tests := []struct {
		name    string
		api     describeOnly
		want    string
		wantErr string
	}{
		{"active", describeOnly{out: table(types.TableStatusActive, "PK", "SK")}, "dynamodb://t1: active", ""},
		{"missing", describeOnly{err: &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}}, "", "does not exist (bot serve --store-create creates it"},
		{"other schema", describeOnly{out: table(types.TableStatusActive, "id")}, "", "key schema is not PK"},
		{"being created", describeOnly{out: table(types.TableStatusCreating, "PK", "SK")}, "", "is CREATING, not ACTIVE"},
	}
	for _, tt := range tests {
		got, err := checkDynamo(context.Background(), tt.api, "t1")
		if tt.wantErr == "" && (err != nil || !strings.Contains(got, tt.want)) || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: checkDynamo = %q, %v; want %q / error with %q", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
