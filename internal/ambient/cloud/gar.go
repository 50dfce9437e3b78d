package cloud

// Google Artifact Registry and Container Registry: an OAuth 2.0 access
// token from Application Default Credentials (GKE Workload Identity and
// Compute Engine through the metadata server, or
// GOOGLE_APPLICATION_CREDENTIALS), sent as the password of user
// oauth2accesstoken, as Google documents for docker login.

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/argo-refs/argo-refs/internal/ambient"
	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// cloudPlatformScope is the scope Artifact Registry accepts.
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

func fetchGAR(ctx context.Context, opts Options) (ambient.Credential, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, opts.HTTPClient)
	creds, err := google.FindDefaultCredentials(ctx, cloudPlatformScope)
	if err != nil {
		return ambient.Credential{}, fmt.Errorf("%w: finding Google application default credentials: %w", ambient.ErrDenied, err)
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		return ambient.Credential{}, fmt.Errorf("%w: getting a Google access token: %w", googleClass(err), err)
	}
	if tok.AccessToken == "" || tok.Expiry.IsZero() {
		return ambient.Credential{}, fmt.Errorf("%w: Google answered without an access token or its expiry", ambient.ErrUnavailable)
	}
	return ambient.Credential{UserPass: netpolicy.UserPass{Username: "oauth2accesstoken", Password: tok.AccessToken}, Expires: tok.Expiry}, nil
}

// googleClass sorts a token error: an HTTP refusal is ambient.ErrDenied, anything
// else ambient.ErrUnavailable.
func googleClass(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return byStatus(re.Response.StatusCode)
	}
	return ambient.ErrUnavailable
}
