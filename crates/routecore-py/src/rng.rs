//! `routecore._native.SplitMix64`.

use pyo3::prelude::*;

use routecore_core::rng;

#[pyclass(module = "routecore._native", name = "SplitMix64")]
pub struct SplitMix64 {
    inner: rng::SplitMix64,
}

#[pymethods]
impl SplitMix64 {
    #[new]
    fn new(seed: u64) -> Self {
        SplitMix64 {
            inner: rng::SplitMix64::new(seed),
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.inner.below(n)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SplitMix64>()
}
