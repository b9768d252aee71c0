//! The raw wasi:http bindings the client is built on, generated from the
//! repository's one copy of the WASI WIT (`wit/deps/`, the WASI 0.2.12
//! packages the host links).
//!
//! Use [`crate::http::Request`] instead; these are here for the rare plugin
//! (or test guest) that must build a request the client would refuse, such as
//! one with an unusual scheme.

#![expect(
    missing_docs,
    reason = "the glue wit-bindgen adds (per-package modules) has no docs; the generated items carry the WIT's own"
)]

wit_bindgen::generate!({
    inline: "package harness:sdk-http;\n\
             world http-client { import wasi:http/outgoing-handler@0.2.12; }",
    path: "../wit",
    generate_all,
});
