//! `routecore._native.Trie`: conversions around `routecore_core::trie`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMapping};

use crate::errors::{layout_err, TrieError};
use crate::storage::{extend, Storage};
use routecore_core::layout::verify_table;
use routecore_core::trie::{self, TrieView};

#[pyclass(module = "routecore._native", name = "Trie", frozen)]
pub struct Trie {
    view: TrieView<'static>,
    _storage: Arc<Storage>,
}

impl Trie {
    /// A trie over bytes held by `storage` (also used by `Image`).
    pub fn from_storage(storage: Arc<Storage>, start: usize) -> PyResult<Self> {
        // SAFETY: the Arc is kept in the same object as the view.
        let bytes = unsafe { extend(storage.bytes().get(start..).unwrap_or(&[])) };
        let view = TrieView::open(bytes).map_err(layout_err)?;
        Ok(Trie {
            view,
            _storage: storage,
        })
    }
}

fn entries(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, u64)>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    let iter = match obj.cast::<PyMapping>() {
        Ok(m) => m.items()?.into_any().try_iter()?,
        Err(_) => obj.try_iter()?,
    };
    let mut out = Vec::new();
    for item in iter {
        let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        let key: String = key
            .extract()
            .map_err(|_| TrieError::new_err(format!("key {key} is not a string of digits 0-9")))?;
        let value: u64 = value.extract().map_err(|_| {
            TrieError::new_err(format!(
                "value {value} of key {key:?} is out of range 0..{}",
                trie::NONE - 1
            ))
        })?;
        out.push((key, value));
    }
    Ok(out)
}

#[pymethods]
impl Trie {
    #[classmethod]
    #[pyo3(signature = (prefixes = None, exact = None))]
    fn build(
        _cls: &Bound<'_, pyo3::types::PyType>,
        prefixes: Option<&Bound<'_, PyAny>>,
        exact: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let table = trie::build(&entries(prefixes)?, &entries(exact)?)
            .map_err(|e| TrieError::new_err(e.to_string()))?;
        Trie::from_storage(Storage::owned(table), 0)
    }

    #[classmethod]
    fn from_buffer(
        _cls: &Bound<'_, pyo3::types::PyType>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        Trie::from_storage(Storage::from_python(data)?, 0)
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self._storage.read(PyBytes::new(py, self.view.bytes()))
    }

    fn verify(&self) -> PyResult<()> {
        self._storage
            .checked(verify_table(self.view.bytes(), "trie").map_err(layout_err))
    }

    fn __len__(&self) -> PyResult<usize> {
        self._storage.read(self.view.entries() as usize)
    }

    fn longest(&self, key: &str) -> PyResult<Option<(u32, usize)>> {
        let found = self.view.longest(key.as_bytes());
        self._storage.read(found.map(|m| (m.value, m.len)))
    }

    fn lookup(&self, key: &str) -> PyResult<Option<u32>> {
        let found = self.view.longest(key.as_bytes());
        self._storage.read(found.map(|m| m.value))
    }

    fn get(&self, key: &str) -> PyResult<Option<u32>> {
        self._storage.read(self.view.get(key.as_bytes()))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Trie>()
}
