package cloudtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestECRChecksTheSignature: the double refuses a call signed with another
// secret, or by a key STS never issued, and takes a rightly signed one.
func TestECRChecksTheSignature(t *testing.T) {
	a := NewAWS(t, "123456789012", "us-east-1")
	good := aws.Credentials{AccessKeyID: "ASIAGOOD", SecretAccessKey: "right", SessionToken: "session"}
	a.sessions[good.AccessKeyID] = good
	call := func(c aws.Credentials) int {
		body := `{"registryIds":["123456789012"]}`
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hex.EncodeToString(sum[:]), "ecr", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := call(good); got != http.StatusOK {
		t.Errorf("rightly signed: %d, want 200", got)
	}
	wrong := good
	wrong.SecretAccessKey = "wrong"
	if got := call(wrong); got != http.StatusForbidden {
		t.Errorf("signed with another secret: %d, want 403", got)
	}
	unknown := good
	unknown.AccessKeyID = "ASIAUNKNOWN"
	if got := call(unknown); got != http.StatusForbidden {
		t.Errorf("a key STS never issued: %d, want 403", got)
	}
}
