package entra

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector"
	"github.com/vigil-soc/vigil/internal/egress"
)

func TestListFollowsNextLinkOnOrigin(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("$skiptoken") {
		case "":
			json.NewEncoder(w).Encode(map[string]any{"value": []int{1, 2}, "@odata.nextLink": srv.URL + "/items?$skiptoken=a"})
		case "a":
			json.NewEncoder(w).Encode(map[string]any{"value": []int{3}, "@odata.nextLink": "https://evil.example/items?$skiptoken=b"})
		}
	}))
	defer srv.Close()
	hc, _ := egress.New(egress.Options{AllowPrivate: []string{"127.0.0.1"}})
	c := &connector.Caller{HTTP: hc, Service: "t", Authorize: func(context.Context, *http.Request) error { return nil }}
	got, err := List[int](context.Background(), c, srv.URL, srv.URL+"/items", 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("max 2: %v, %v", got, err)
	}
	_, err = List[int](context.Background(), c, srv.URL, srv.URL+"/items", 0)
	if err == nil || !strings.Contains(err.Error(), "next link leaves") {
		t.Fatalf("off-origin next link: %v", err)
	}
}

func TestQueryAndLiterals(t *testing.T) {
	q := Query("$filter", "userPrincipalName eq "+String("o'brien@example.com"), "$top", "5", "$select", "")
	if q != "?$filter=userPrincipalName%20eq%20%27o%27%27brien%40example.com%27&$top=5" {
		t.Errorf("Query = %s", q)
	}
	if Query() != "" {
		t.Error("empty query")
	}
}

func TestDecodeErrors(t *testing.T) {
	resp := &http.Response{StatusCode: 401, Header: http.Header{}}
	e := DecodeTokenError(resp, []byte(`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x\r\nCorrelation ID: c1","correlation_id":"c1"}`))
	if e.Code != "invalid_client" || e.Message != "AADSTS7000215: Invalid client secret provided." || e.RequestID != "c1" {
		t.Errorf("token error = %+v", e)
	}
	e = DecodeError(resp, []byte(`{"error":{"code":"ResourceNotFound","message":"Machine x was not found","target":"t-1"}}`))
	if e.Code != "ResourceNotFound" || e.RequestID != "t-1" {
		t.Errorf("OData error = %+v", e)
	}
	if DecodeError(resp, []byte(`not json`)) != nil {
		t.Error("non-JSON decoded")
	}
	if got := (Credentials{TenantID: "t1"}).TokenURL(); got != "https://login.microsoftonline.com/t1/oauth2/v2.0/token" {
		t.Errorf("TokenURL = %s", got)
	}
}
