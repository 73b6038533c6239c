//! Black-box test crate; the tests live in `it/`.
