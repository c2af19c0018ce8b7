//! `routecore._native.SegmentTable`: conversions around `routecore_core::segments`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use crate::errors::{layout_err, SegmentDataError};
use crate::storage::{extend, Storage};
use routecore_core::layout::verify_table;
use routecore_core::segments::{self, Row, SegmentView};

#[pyclass(module = "routecore._native", name = "SegmentTable", frozen)]
pub struct SegmentTable {
    pub(crate) view: SegmentView<'static>,
    pub(crate) storage: Arc<Storage>,
}

impl SegmentTable {
    pub fn from_storage(storage: Arc<Storage>, start: usize) -> PyResult<Self> {
        // SAFETY: the Arc is kept in the same object as the view.
        let bytes = unsafe { extend(storage.bytes().get(start..).unwrap_or(&[])) };
        let view = SegmentView::open(bytes).map_err(layout_err)?;
        Ok(SegmentTable { view, storage })
    }
}

fn region_tuple(view: &SegmentView<'_>, id: u16) -> PyResult<(String, String, String)> {
    let r = view.region(id).map_err(layout_err)?;
    Ok((r.area_code.into(), r.province.into(), r.city.into()))
}

#[pymethods]
impl SegmentTable {
    #[classmethod]
    #[pyo3(signature = (phone_dat = None, rows = Vec::new()))]
    fn build(
        _cls: &Bound<'_, PyType>,
        phone_dat: Option<&[u8]>,
        rows: Vec<(u32, String, String, String)>,
    ) -> PyResult<Self> {
        let base = match phone_dat {
            Some(data) => segments::parse_phone_dat(data).map_err(SegmentDataError::new_err)?,
            None => Vec::new(),
        };
        let overlay: Vec<Row> = rows
            .into_iter()
            .map(|(segment, area_code, province, city)| Row {
                segment,
                carrier: 0,
                area_code,
                province,
                city,
            })
            .collect();
        let table = segments::build(&base, &overlay).map_err(SegmentDataError::new_err)?;
        SegmentTable::from_storage(Storage::owned(table), 0)
    }

    #[classmethod]
    fn from_buffer(_cls: &Bound<'_, PyType>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        SegmentTable::from_storage(Storage::from_python(data)?, 0)
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.storage.read(PyBytes::new(py, self.view.bytes()))
    }

    fn verify(&self) -> PyResult<()> {
        self.storage
            .checked(verify_table(self.view.bytes(), "segments").map_err(layout_err))
    }

    fn __len__(&self) -> PyResult<usize> {
        self.storage.read(self.view.known() as usize)
    }

    fn regions(&self) -> PyResult<Vec<(String, String, String)>> {
        self.storage.checked(
            (0..self.view.region_count())
                .map(|id| region_tuple(&self.view, id as u16))
                .collect(),
        )
    }

    fn segment(&self, segment: i64) -> PyResult<(u16, u8)> {
        self.storage.read(self.segment_of(segment))
    }

    fn lookup(&self, segment: &Bound<'_, PyAny>) -> PyResult<Option<(String, String, String)>> {
        let seg: Option<i64> = match segment.extract::<i64>() {
            Ok(v) => Some(v),
            Err(_) => segment
                .extract::<String>()
                .ok()
                .and_then(|s| s.trim().parse().ok()),
        };
        let (rid, _) = seg.map(|s| self.segment_of(s)).unwrap_or((0, 0));
        if rid == 0 {
            return self.storage.read(None);
        }
        self.storage
            .checked(region_tuple(&self.view, rid).map(Some))
    }

    fn area(&self, digits: &str) -> PyResult<Option<(u16, usize)>> {
        self.storage.read(self.view.area(digits.as_bytes()))
    }
}

impl SegmentTable {
    fn segment_of(&self, segment: i64) -> (u16, u8) {
        match u32::try_from(segment) {
            Ok(s) => self.view.segment(s),
            Err(_) => (0, 0),
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SegmentTable>()
}
