//! The routing core of routecore, plain Rust without PyO3: `cargo test -p routecore-core` and
//! `cargo clippy -p routecore-core` build and run it without a Python interpreter. The binding
//! crate `routecore-py` (`crates/routecore-py`) only converts types and registers the classes of
//! the extension module `routecore._native`.

pub mod blob;
pub mod fault;
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
