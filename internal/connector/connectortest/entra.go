package connectortest

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/connector"
)

// EntraCredentials are the client credentials a Microsoft fake (Graph, Defender) accepts at
// its token endpoint, {Authority}/{TenantID}/oauth2/v2.0/token.
type EntraCredentials struct {
	Authority    string // the fake's URL: it serves its own token endpoint
	TenantID     string
	ClientID     string
	ClientSecret connector.Secret
}

// entraApp is an app registration the fake's token endpoint knows.
type entraApp struct {
	tenant   string
	clientID string
	secret   connector.Secret
	resource string // e.g. https://graph.microsoft.com
}

func newEntraApp(tenant, resource string) entraApp {
	return entraApp{tenant: tenant, clientID: uuid(), secret: connector.Secret("fk~" + randHex(20)), resource: resource}
}

// handleToken serves POST /{tenant}/oauth2/v2.0/token as Entra ID does for the
// client-credentials grant, with its error bodies (AADSTS codes).
func (f *fake) handleEntraToken(app entraApp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fail := func(status int, code string, aadsts int, msg string) {
			trace, corr := uuid(), uuid()
			now := time.Now().UTC()
			writeJSON(w, status, map[string]any{
				"error":             code,
				"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, msg, trace, corr, now.Format("2006-01-02 15:04:05Z")),
				"error_codes":       []int{aadsts},
				"timestamp":         now.Format("2006-01-02 15:04:05Z"),
				"trace_id":          trace,
				"correlation_id":    corr,
				"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", aadsts),
			})
		}
		if err := r.ParseForm(); err != nil {
			fail(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
			return
		}
		switch {
		case r.PathValue("tenant") != app.tenant:
			fail(400, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", r.PathValue("tenant")))
		case r.PostForm.Get("grant_type") != "client_credentials":
			fail(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
		case r.PostForm.Get("client_id") != app.clientID:
			fail(400, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", r.PostForm.Get("client_id"), app.tenant))
		case subtle.ConstantTimeCompare([]byte(r.PostForm.Get("client_secret")), []byte(app.secret.Reveal())) != 1:
			fail(401, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.clientID))
		case !strings.EqualFold(r.PostForm.Get("scope"), app.resource+"/.default"):
			fail(400, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", r.PostForm.Get("scope")))
		default:
			tok, ttl := f.issueToken()
			secs := int(ttl / time.Second)
			writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
		}
	}
}

func isEntraToken(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token")
}

// odataError writes the OData error body Graph and Defender send.
func odataError(w http.ResponseWriter, status int, code, msg string) {
	id := uuid()
	w.Header().Set("request-id", id)
	w.Header().Set("client-request-id", id)
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code":       code,
		"message":    msg,
		"innerError": map[string]any{"date": ts(time.Now()), "request-id": id, "client-request-id": id},
	}})
}
