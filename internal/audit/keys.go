package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// Files in the data directory.
const (
	dbFile      = "audit.db"
	keyFile     = "audit.key"      // Ed25519 private key, PKCS#8 PEM, mode 0600
	pubFile     = "audit.pub"      // its public key, PKIX PEM
	nextKeyFile = "audit.key.next" // a rotation in progress
)

// ReadPublicKey reads a PKIX PEM Ed25519 public key, such as DIR/audit.pub, for VerifyDir.
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit public key: %w", err)
	}
	pub, err := parsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("read audit public key %s: %w", path, err)
	}
	return pub, nil
}

func parsePublicKey(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%T is not an Ed25519 key", k)
	}
	return pub, nil
}

func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: %T is not an Ed25519 key", path, k)
	}
	return key, nil
}

func encodePrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func encodePublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// newKeyFile creates a key pair and writes its private half to name in dir, mode 0600.
func newKeyFile(dir, name string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate audit key: %w", err)
	}
	b, err := encodePrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode audit key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, name), b, 0o600); err != nil {
		return nil, fmt.Errorf("write audit key: %w", err)
	}
	return key, nil
}

// writePublicKey writes DIR/audit.pub for key unless it already holds it.
func writePublicKey(dir string, key ed25519.PrivateKey) error {
	b, err := encodePublicKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		return fmt.Errorf("encode audit public key: %w", err)
	}
	path := filepath.Join(dir, pubFile)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := writeFileAtomic(path, b, 0o644); err != nil {
		return fmt.Errorf("write audit public key: %w", err)
	}
	return nil
}

// loadKey returns the signing key in dir, creating it when the log has no checkpoint yet. last is
// the key that signed the last checkpoint, nil when there is none. It finishes or discards a key
// rotation that a crash interrupted.
func loadKey(dir string, last ed25519.PublicKey, log *slog.Logger) (ed25519.PrivateKey, error) {
	keyPath, nextPath := filepath.Join(dir, keyFile), filepath.Join(dir, nextKeyFile)
	if next, err := readPrivateKey(nextPath); err == nil {
		if last != nil && last.Equal(next.Public()) {
			// The rotation committed; only the rename was lost.
			if err := os.Rename(nextPath, keyPath); err != nil {
				return nil, fmt.Errorf("finish audit key rotation: %w", err)
			}
			if err := syncDir(dir); err != nil {
				return nil, fmt.Errorf("finish audit key rotation: %w", err)
			}
			log.Info("finished interrupted audit key rotation")
		} else if err := os.Remove(nextPath); err != nil {
			return nil, fmt.Errorf("discard unfinished audit key rotation: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read audit key: %w", err)
	}

	key, err := readPrivateKey(keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist) && last != nil:
		return nil, fmt.Errorf("%w: %s (the log's checkpoints are signed by it)", ErrKeyMissing, keyPath)
	case errors.Is(err, fs.ErrNotExist):
		if key, err = newKeyFile(dir, keyFile); err != nil {
			return nil, err
		}
		log.Info("created audit signing key", "path", keyPath)
	case err != nil:
		return nil, fmt.Errorf("read audit key: %w", err)
	case last != nil && !last.Equal(key.Public()):
		return nil, fmt.Errorf("%w: %s", ErrKeyMismatch, keyPath)
	}
	if fi, err := os.Stat(keyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("audit signing key is readable by others", "path", keyPath, "mode", fi.Mode().Perm().String())
	}
	if err := writePublicKey(dir, key); err != nil {
		return nil, err
	}
	return key, nil
}

// writeFileAtomic writes data to path through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
