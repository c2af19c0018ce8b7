//! `routecore._native.Image` and `build_image`: conversions around `routecore_core::image`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMapping, PyType};

use crate::errors::{layout_err, LayoutError};
use crate::group::Group;
use crate::segments::SegmentTable;
use crate::storage::{extend, Storage};
use crate::timeplan::TimePlan;
use crate::trie::Trie;
use routecore_core::image::{self, ImageView};

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

    /// Offset of a section of the given kind in the storage (the image starts at 0).
    fn offset(&self, name: &str, kind: &[u8; 4]) -> PyResult<usize> {
        let section = self.view.section_of(name, kind).map_err(layout_err);
        Ok(self.storage.checked(section)?.offset)
    }

    /// The section named `name`, if any (LayoutError if the file broke under the look).
    fn find(&self, name: &str) -> PyResult<Option<routecore_core::image::Section>> {
        self.storage
            .checked(self.view.find(name).map_err(layout_err))
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
        Image::from_storage(Storage::map_file(&path)?)
    }

    #[classmethod]
    fn from_buffer(_cls: &Bound<'_, PyType>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        Image::from_storage(Storage::from_python(data)?)
    }

    fn __len__(&self) -> PyResult<usize> {
        self.storage.read(self.view.len())
    }

    fn __contains__(&self, name: &str) -> PyResult<bool> {
        Ok(self.find(name)?.is_some())
    }

    /// Section names in name order.
    fn names(&self) -> PyResult<Vec<String>> {
        self.storage.checked(
            (0..self.view.len())
                .map(|i| self.view.name(i).map(str::to_string).map_err(layout_err))
                .collect(),
        )
    }

    /// The kind (table magic, e.g. "RCTR") of a section.
    fn kind(&self, name: &str) -> PyResult<String> {
        match self.find(name)? {
            Some(s) => Ok(String::from_utf8_lossy(&s.kind).into_owned()),
            None => Err(pyo3::exceptions::PyKeyError::new_err(name.to_string())),
        }
    }

    /// A copy of a section's bytes.
    fn section<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyBytes>> {
        match self.find(name)? {
            Some(s) => self
                .storage
                .read(PyBytes::new(py, self.view.section_bytes(s))),
            None => Err(pyo3::exceptions::PyKeyError::new_err(name.to_string())),
        }
    }

    /// The CRC-32 of the image's body, as stored in its header.
    #[getter]
    fn content_hash(&self) -> PyResult<u32> {
        self.storage.read(self.view.content_hash())
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.storage.read(PyBytes::new(py, self.view.bytes()))
    }

    /// Check the checksum of the image and of every section (reads everything).
    fn verify(&self) -> PyResult<()> {
        self.storage.checked(self.view.verify().map_err(layout_err))
    }

    /// The payload of a blob section (a copy).
    fn blob<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyBytes>> {
        let payload = self
            .view
            .table(name, routecore_core::blob::MAGIC)
            .and_then(routecore_core::blob::payload)
            .map(|p| PyBytes::new(py, p))
            .map_err(layout_err);
        self.storage.checked(payload)
    }

    fn trie(&self, name: &str) -> PyResult<Trie> {
        let table = Trie::from_storage(
            self.storage.clone(),
            self.offset(name, routecore_core::trie::MAGIC)?,
        );
        self.storage.checked(table)
    }

    fn group(&self, name: &str) -> PyResult<Group> {
        let table = Group::from_storage(
            self.storage.clone(),
            self.offset(name, routecore_core::group::MAGIC)?,
        );
        self.storage.checked(table)
    }

    fn time_plan(&self, name: &str) -> PyResult<TimePlan> {
        let table = TimePlan::from_storage(
            self.storage.clone(),
            self.offset(name, routecore_core::timeplan::MAGIC)?,
        );
        self.storage.checked(table)
    }

    fn segments(&self, name: &str) -> PyResult<SegmentTable> {
        let table = SegmentTable::from_storage(
            self.storage.clone(),
            self.offset(name, routecore_core::segments::MAGIC)?,
        );
        self.storage.checked(table)
    }
}

/// A blob table holding `data` (for `build_image`).
#[pyfunction]
pub fn blob_table<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &routecore_core::blob::build(data))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Image>()?;
    m.add_function(wrap_pyfunction!(blob_table, m)?)?;
    m.add_function(wrap_pyfunction!(build_image, m)?)
}
