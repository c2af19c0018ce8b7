//! The compiled core of routecore.
//!
//! Every module here is plain Rust without PyO3: `cargo test` and `cargo clippy` build and run
//! it without linking Python. The `bindings` module (feature `python`, turned on by maturin)
//! only converts types and registers the classes of `routecore._native`.

pub mod blob;
pub mod group;
pub mod image;
pub mod layout;
pub mod numbers;
pub mod rng;
pub mod segments;
pub mod select;
pub mod state;
pub mod timeplan;
pub mod trie;

#[cfg(feature = "python")]
mod bindings;
