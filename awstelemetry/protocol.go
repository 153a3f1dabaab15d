package awstelemetry

import (
	"context"
	"fmt"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ProtocolError says that an endpoint answered in another protocol than
// the one the service speaks: CloudWatch's SDK client speaks Smithy RPC v2
// CBOR, and an emulator or proxy that answers the older query protocol
// (XML) or JSON makes the CBOR decoder fail with messages such as "decode
// argument: unexpected minor value 28" that name neither the endpoint nor
// the cause.
type ProtocolError struct {
	// Service and Protocol are what the client expected.
	Service, Protocol string
	// Endpoint is the host that answered; Status and ContentType are its
	// answer's.
	Endpoint    string
	Status      int
	ContentType string
	Err         error
}

func (e *ProtocolError) Error() string {
	ct := e.ContentType
	if ct == "" {
		ct = "none"
	}
	return fmt.Sprintf("%s endpoint %s does not answer in %s's %s protocol (HTTP %d, Content-Type %s, no \"Smithy-Protocol: rpc-v2-cbor\" header): %v",
		e.Service, e.Endpoint, e.Service, e.Protocol, e.Status, ct, e.Err)
}

// Unwrap gives the decoder's error to errors.As and errors.Is.
func (e *ProtocolError) Unwrap() error { return e.Err }

// rpcv2CBORCheck turns a failed CloudWatch call whose response does not
// carry the RPC v2 CBOR protocol's header into a *ProtocolError. The
// protocol (smithy.io, "Smithy RPC v2 CBOR protocol") has every response,
// errors included, carry "Smithy-Protocol: rpc-v2-cbor", so a failed call
// whose response lacks it was answered by something that speaks another
// protocol, and its decoding error says nothing useful.
// Successful calls and calls that got no response pass through unchanged.
func rpcv2CBORCheck(stack *middleware.Stack) error {
	return stack.Deserialize.Insert(middleware.DeserializeMiddlewareFunc("unstuckRPCv2CBORCheck",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if err == nil {
				return out, md, nil
			}
			resp, ok := out.RawResponse.(*smithyhttp.Response)
			if !ok || resp == nil || resp.Response == nil || resp.Header.Get("Smithy-Protocol") == "rpc-v2-cbor" {
				return out, md, err
			}
			host := ""
			if resp.Request != nil && resp.Request.URL != nil {
				host = resp.Request.URL.Host
			}
			return out, md, &ProtocolError{
				Service: "CloudWatch", Protocol: "Smithy RPC v2 CBOR", Endpoint: host,
				Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Err: err,
			}
		}), "OperationDeserializer", middleware.Before)
}
