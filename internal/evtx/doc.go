// Package evtx decodes Windows XML Event Log (EVTX) files. It is the EVTX front end of vigil:
// `vigil scan` and `vigil import` read .evtx files through it, and the detection stage matches
// Sigma rules on the flat field view it produces.
//
// A Reader streams a file: it reads and checks the file header, then one 64 KiB chunk at a
// time, so memory stays bounded by one chunk plus the chunk's name and template caches, whatever
// the size of the file. Each chunk's records are BinXML fragments built from templates; the
// Reader instantiates them (normal and optional substitutions, nested BinXML, array
// substitutions) into a small reusable tree.
//
// A Record renders that tree two ways:
//
//   - Record.AppendJSON writes the JSON shape of `evtx_dump -o json` from the Rust evtx crate
//     (github.com/omerbenamram/evtx), which the Windows normalizer takes as input.
//   - Record.Fields yields flat (name, value) pairs for the Sigma engine without going through
//     JSON. The same flattening rules are applied to JSON input elsewhere in vigil, so both must
//     stay in step (see Fields for the rules). Record.FieldsTyped also says which values are the
//     text of a typed value (numbers, GUIDs, SIDs, times, binary), made of TypedAlphabet only,
//     which the engine's prefilter need not look at for most literals.
//
// Damaged input never makes the Reader panic. A chunk or record that cannot be decoded is
// skipped and reported as an *Error that names the chunk, the file offset and the reason;
// the Reader goes on with the rest of the file. Chunks whose checksums do not match are still
// read (and reported), as the Rust crate does unless told to validate checksums.
package evtx
