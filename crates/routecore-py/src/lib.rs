//! `routecore._native`: the PyO3 layer over `routecore_core`. Conversions and registration
//! only, no logic; each file binds the core module of its name (`group.rs` binds
//! `routecore_core::group`, …), plus `errors.rs` (routecore's exception classes) and
//! `storage.rs` (who owns a table's bytes: a copy, a file map or a Python buffer).

use pyo3::prelude::*;

mod errors;
mod group;
mod image;
mod numbers;
mod rng;
mod segments;
mod state;
mod storage;
mod timeplan;
mod trie;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    group::register(m)?;
    image::register(m)?;
    numbers::register(m)?;
    rng::register(m)?;
    segments::register(m)?;
    state::register(m)?;
    timeplan::register(m)?;
    trie::register(m)?;
    Ok(())
}
