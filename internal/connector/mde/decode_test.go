package mde

import (
	"errors"
	"net/http"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector"
)

// Defender answers 400 ActiveRequestAlreadyExists to a second isolation change while one is
// in progress; callers see it as a conflict.
func TestActiveRequestIsConflict(t *testing.T) {
	e := decodeError(&http.Response{StatusCode: 400, Header: http.Header{}}, []byte(`{"error":{"code":"ActiveRequestAlreadyExists","message":"Action is already in progress","target":"t"}}`))
	e.Status = 400
	if !errors.Is(e, connector.ErrConflict) {
		t.Errorf("%v is not a conflict", e)
	}
}
