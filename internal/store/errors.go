package store

import "errors"

// ErrNotFound is returned (wrapped) when an object does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when an update lost a race with another writer.
var ErrConflict = errors.New("conflict")
