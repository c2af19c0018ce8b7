//! `routecore._native.Image` and `build_image`: conversions around `crate::image`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMapping, PyType};

use super::errors::{layout_err, LayoutError};
use super::numbers::SegmentTable;
use super::select::Group;
use super::storage::{extend, Storage};
use super::timeplan::TimePlan;
use super::trie::Trie;
use crate::image::{self, ImageView};
use crate::layout::{verify_table, LayoutError as CoreLayoutError};

#[pyclass(module = "routecore._native", name = "Image", frozen)]
pub struct Image {
    view: ImageView<'static>,
    storage: Arc<Storage>,
}

impl Image {
    fn from_storage(storage: Arc<Storage>) -> PyResult<Self> {
        // SAFETY: the Arc is kept in the same object as the view.
        let bytes = unsafe { extend(storage.bytes()) };
        let view = ImageView::open(bytes).map_err(layout_err)?;
        Ok(Image { view, storage })
    }

    /// Offset of a section of the given kind in the storage.
    fn offset(&self, name: &str, kind: &[u8; 4]) -> PyResult<usize> {
        let table = self.view.table(name, kind).map_err(layout_err)?;
        Ok(table.as_ptr() as usize - self.view.bytes().as_ptr() as usize)
    }
}

/// Concatenate named tables into one routing image (bytes).
#[pyfunction]
pub fn build_image<'py>(
    py: Python<'py>,
    sections: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let iter = match sections.cast::<PyMapping>() {
        Ok(m) => m.items()?.into_any().try_iter()?,
        Err(_) => sections.try_iter()?,
    };
    let mut owned: Vec<(String, Vec<u8>)> = Vec::new();
    for item in iter {
        let (name, data): (String, Vec<u8>) = item?.extract()?;
        owned.push((name, data));
    }
    let refs: Vec<(String, &[u8])> = owned
        .iter()
        .map(|(n, d)| (n.clone(), d.as_slice()))
        .collect();
    let img = image::build(&refs).map_err(|e| LayoutError::new_err(e.to_string()))?;
    Ok(PyBytes::new(py, &img))
}

#[pymethods]
impl Image {
    /// Map an image file read-only.
    #[classmethod]
    fn open(_cls: &Bound<'_, PyType>, path: std::path::PathBuf) -> PyResult<Self> {
        Image::from_storage(Storage::map_file(&path.to_string_lossy())?)
    }

    #[classmethod]
    fn from_buffer(_cls: &Bound<'_, PyType>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        Image::from_storage(Storage::from_python(data)?)
    }

    fn __len__(&self) -> usize {
        self.view.len()
    }

    fn __contains__(&self, name: &str) -> PyResult<bool> {
        Ok(self.view.find(name).map_err(layout_err)?.is_some())
    }

    /// Section names in name order.
    fn names(&self) -> PyResult<Vec<String>> {
        (0..self.view.len())
            .map(|i| self.view.name(i).map(str::to_string).map_err(layout_err))
            .collect()
    }

    /// The kind (table magic, e.g. "RCTR") of a section.
    fn kind(&self, name: &str) -> PyResult<String> {
        match self.view.find(name).map_err(layout_err)? {
            Some(s) => Ok(String::from_utf8_lossy(&s.kind).into_owned()),
            None => Err(pyo3::exceptions::PyKeyError::new_err(name.to_string())),
        }
    }

    /// A copy of a section's bytes.
    fn section<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyBytes>> {
        match self.view.find(name).map_err(layout_err)? {
            Some(s) => Ok(PyBytes::new(
                py,
                &self.view.bytes()[s.offset..s.offset + s.len],
            )),
            None => Err(pyo3::exceptions::PyKeyError::new_err(name.to_string())),
        }
    }

    /// The CRC-32 of the image's body, as stored in its header.
    #[getter]
    fn content_hash(&self) -> u32 {
        let b = self.view.bytes();
        u32::from_le_bytes([b[12], b[13], b[14], b[15]])
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.view.bytes())
    }

    /// Check the checksum of the image and of every section (reads everything).
    fn verify(&self) -> PyResult<()> {
        verify_table(self.view.bytes(), "image").map_err(layout_err)?;
        for i in 0..self.view.len() {
            let s = self.view.entry(i).map_err(layout_err)?;
            verify_table(&self.view.bytes()[s.offset..s.offset + s.len], "section")
                .map_err(|e: CoreLayoutError| layout_err(e))?;
        }
        Ok(())
    }

    /// The payload of a blob section (a copy).
    fn blob<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyBytes>> {
        let table = self
            .view
            .table(name, crate::blob::MAGIC)
            .map_err(layout_err)?;
        Ok(PyBytes::new(
            py,
            crate::blob::payload(table).map_err(layout_err)?,
        ))
    }

    fn trie(&self, name: &str) -> PyResult<Trie> {
        Trie::from_storage(self.storage.clone(), self.offset(name, crate::trie::MAGIC)?)
    }

    fn group(&self, name: &str) -> PyResult<Group> {
        Group::from_storage(
            self.storage.clone(),
            self.offset(name, crate::group::MAGIC)?,
        )
    }

    fn time_plan(&self, name: &str) -> PyResult<TimePlan> {
        TimePlan::from_storage(
            self.storage.clone(),
            self.offset(name, crate::timeplan::MAGIC)?,
        )
    }

    fn segments(&self, name: &str) -> PyResult<SegmentTable> {
        SegmentTable::from_storage(
            self.storage.clone(),
            self.offset(name, crate::segments::MAGIC)?,
        )
    }
}

/// A blob table holding `data` (for `build_image`).
#[pyfunction]
pub fn blob_table<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &crate::blob::build(data))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Image>()?;
    m.add_function(wrap_pyfunction!(blob_table, m)?)?;
    m.add_function(wrap_pyfunction!(build_image, m)?)
}
