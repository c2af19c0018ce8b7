//! The PyO3 layer of `routecore._native`: conversions and registration only, no logic.

use pyo3::prelude::*;

mod errors;
mod image;
mod numbers;
mod rng;
mod select;
mod state;
mod storage;
mod timeplan;
mod trie;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    image::register(m)?;
    numbers::register(m)?;
    rng::register(m)?;
    select::register(m)?;
    state::register(m)?;
    timeplan::register(m)?;
    trie::register(m)?;
    Ok(())
}
