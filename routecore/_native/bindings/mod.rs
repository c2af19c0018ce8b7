//! The PyO3 layer of `routecore._native`: conversions and registration only, no logic.

use pyo3::prelude::*;

#[allow(dead_code)]
mod errors;
mod rng;
mod select;
#[allow(dead_code)] // used by the table classes as they land
mod storage;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    rng::register(m)?;
    select::register(m)?;
    Ok(())
}
