package store

import (
	"fmt"
	"os"
	"testing"

	"github.com/unstuck/unstuck/store/storetest"
)

// dynamoEndpoint is the DynamoDB-compatible server the tests use; empty
// when there is none, and dynamoSkip says why.
var dynamoEndpoint, dynamoSkip string

// TestMain starts dynalite (storetest) for the DynamoDB half of the suite,
// and stops it after. Without node the DynamoDB tests skip, saying so,
// unless CI is set: then they fail.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	srv, err := storetest.Start()
	if err == nil {
		err = srv.Setenv()
		defer srv.Stop()
	}
	if err != nil {
		if storetest.Required() {
			fmt.Fprintf(os.Stderr, "store tests: no DynamoDB-compatible server: %v (CI is set: the DynamoDB tests must run)\n", err)
			return 1
		}
		dynamoSkip = fmt.Sprintf("no DynamoDB-compatible server: %v (CI is unset, so the DynamoDB tests skip)", err)
		fmt.Fprintln(os.Stderr, "store tests:", dynamoSkip)
	} else {
		dynamoEndpoint = srv.Endpoint
	}
	return m.Run()
}
