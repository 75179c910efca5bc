package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v3"
)

// maxYAMLNodes bounds the work spent walking one document, so that alias bombs and other
// hostile input stay cheap.
const maxYAMLNodes = 200_000

// decodeDocuments parses every YAML document in data. It never panics: a panic inside the YAML
// library is turned into an error.
func decodeDocuments(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if p := recover(); p != nil {
			docs, err = nil, fmt.Errorf("yaml: parser failure: %v", p)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return docs, fmt.Errorf("yaml: %w", err)
		}
		if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
			docs = append(docs, n.Content[0])
		} else {
			docs = append(docs, &n)
		}
	}
}

// walkBudget counts visited nodes.
type walkBudget struct{ left int }

func (b *walkBudget) spend() error {
	if b.left--; b.left < 0 {
		return fmt.Errorf("document too large or too deeply aliased")
	}
	return nil
}

// deref follows alias nodes.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 32; i++ {
		n = n.Alias
	}
	return n
}

// mapEntry is one key/value pair of a YAML mapping.
type mapEntry struct {
	key string
	val *yaml.Node
}

// mappingEntries returns the entries of a mapping node (keys as text), or an error naming what
// was expected.
func mappingEntries(n *yaml.Node, what string) ([]mapEntry, error) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s must be a map", what)
	}
	out := make([]mapEntry, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s: keys must be scalars (line %d)", what, n.Content[i].Line)
		}
		if k.ShortTag() == "!!merge" {
			return nil, fmt.Errorf("%s: YAML merge keys are not supported (line %d)", what, k.Line)
		}
		out = append(out, mapEntry{key: k.Value, val: n.Content[i+1]})
	}
	return out, nil
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// scalarText returns the text of a non-null scalar.
func scalarText(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return "", false
	}
	return n.Value, true
}

// stringField reads an optional scalar attribute as text.
func stringField(n *yaml.Node, what string) (string, error) {
	if isNull(n) {
		return "", nil
	}
	s, ok := scalarText(n)
	if !ok {
		return "", fmt.Errorf("%s must be a string", what)
	}
	return s, nil
}

// stringList reads an optional list of scalars; a single scalar counts as a one-item list.
func stringList(n *yaml.Node, what string) ([]string, error) {
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s must be a list of strings", what)
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, ok := scalarText(c)
		if !ok {
			return nil, fmt.Errorf("%s must be a list of strings (line %d)", what, c.Line)
		}
		out = append(out, s)
	}
	return out, nil
}

// parsedNode is a decoded YAML document root.
type parsedNode = yaml.Node
