//! routecore's own exception classes (defined in `routecore/errors.py`) and the conversion
//! of the core's error enums into them.

use pyo3::PyErr;

use routecore_core::layout::LayoutError as CoreLayoutError;

pyo3::import_exception!(routecore.errors, LayoutError);
pyo3::import_exception!(routecore.errors, SegmentDataError);
pyo3::import_exception!(routecore.errors, TrieError);
pyo3::import_exception!(routecore.errors, TimePlanError);
pyo3::import_exception!(routecore.errors, SelectionError);
pyo3::import_exception!(routecore.errors, StateError);

pub fn layout_err(e: CoreLayoutError) -> PyErr {
    LayoutError::new_err(e.to_string())
}
