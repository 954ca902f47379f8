//! klaxon-notify's integration tests, one binary: the channels' payloads against the
//! receivers' documented fields and limits (`payloads`).

mod payloads;
