//! `routecore._native.SegmentTable`, `Classifier` and `Caller`: conversions around
//! `crate::segments` and `crate::numbers`. Python strings of regions, kinds and carriers are
//! made once per classifier, so a classification allocates only the Caller and its number.

use std::sync::Arc;

use numpy::{IntoPyArray, PyArray1};
use pyo3::basic::CompareOp;
use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple, PyType};

use super::errors::{layout_err, SegmentDataError};
use super::storage::{extend, Storage};
use crate::layout::verify_table;
use crate::numbers::{self, KIND_NAMES};
use crate::segments::{self, Row, SegmentView, CARRIERS};

#[pyclass(module = "routecore._native", name = "SegmentTable", frozen)]
pub struct SegmentTable {
    view: SegmentView<'static>,
    storage: Arc<Storage>,
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

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.view.bytes())
    }

    fn verify(&self) -> PyResult<()> {
        verify_table(self.view.bytes(), "segments").map_err(layout_err)
    }

    fn __len__(&self) -> usize {
        self.view.known() as usize
    }

    fn regions(&self) -> PyResult<Vec<(String, String, String)>> {
        (0..self.view.region_count())
            .map(|id| region_tuple(&self.view, id as u16))
            .collect()
    }

    fn segment(&self, segment: i64) -> (u16, u8) {
        match u32::try_from(segment) {
            Ok(s) => self.view.segment(s),
            Err(_) => (0, 0),
        }
    }

    fn lookup(&self, segment: &Bound<'_, PyAny>) -> PyResult<Option<(String, String, String)>> {
        let seg: Option<i64> = match segment.extract::<i64>() {
            Ok(v) => Some(v),
            Err(_) => segment
                .extract::<String>()
                .ok()
                .and_then(|s| s.trim().parse().ok()),
        };
        let (rid, _) = seg.map(|s| self.segment(s)).unwrap_or((0, 0));
        if rid == 0 {
            return Ok(None);
        }
        region_tuple(&self.view, rid).map(Some)
    }

    fn area(&self, digits: &str) -> Option<(u16, usize)> {
        self.view.area(digits.as_bytes())
    }
}

/// A classified caller number (see `routecore.py.numbers.Caller`).
#[pyclass(module = "routecore._native", name = "Caller", frozen)]
pub struct Caller {
    #[pyo3(get)]
    kind: Py<PyString>,
    #[pyo3(get)]
    number: Py<PyString>,
    #[pyo3(get)]
    area_code: Option<Py<PyString>>,
    #[pyo3(get)]
    province: Option<Py<PyString>>,
    #[pyo3(get)]
    city: Option<Py<PyString>>,
    #[pyo3(get)]
    carrier: Option<Py<PyString>>,
}

impl Caller {
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                Some(self.kind.clone_ref(py)),
                Some(self.number.clone_ref(py)),
                self.area_code.as_ref().map(|s| s.clone_ref(py)),
                self.province.as_ref().map(|s| s.clone_ref(py)),
                self.city.as_ref().map(|s| s.clone_ref(py)),
                self.carrier.as_ref().map(|s| s.clone_ref(py)),
            ],
        )
    }
}

#[pymethods]
impl Caller {
    #[new]
    #[pyo3(signature = (kind, number, area_code = None, province = None, city = None, carrier = None))]
    fn new(
        kind: Py<PyString>,
        number: Py<PyString>,
        area_code: Option<Py<PyString>>,
        province: Option<Py<PyString>>,
        city: Option<Py<PyString>>,
        carrier: Option<Py<PyString>>,
    ) -> Self {
        Caller {
            kind,
            number,
            area_code,
            province,
            city,
            carrier,
        }
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<Caller>() else {
            return Ok(py.NotImplemented());
        };
        let equal = self.fields(py)?.eq(other.get().fields(py)?)?;
        match op {
            CompareOp::Eq => Ok(equal.into_pyobject(py)?.to_owned().into_any().unbind()),
            CompareOp::Ne => Ok((!equal).into_pyobject(py)?.to_owned().into_any().unbind()),
            _ => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.fields(py)?.hash()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let f = self.fields(py)?;
        let r = |i: usize| -> PyResult<String> { Ok(f.get_item(i)?.repr()?.to_string()) };
        Ok(format!(
            "Caller(kind={}, number={}, area_code={}, province={}, city={}, carrier={})",
            r(0)?,
            r(1)?,
            r(2)?,
            r(3)?,
            r(4)?,
            r(5)?
        ))
    }
}

type BatchArrays<'py> = (Bound<'py, PyArray1<u8>>, Bound<'py, PyArray1<u16>>);

/// Classifies caller strings against one segment table.
#[pyclass(module = "routecore._native", name = "Classifier", frozen)]
pub struct Classifier {
    segments: Py<SegmentTable>,
    view: SegmentView<'static>,
    _storage: Arc<Storage>,
    regions: Vec<Option<[Py<PyString>; 3]>>,
    kinds: Vec<Py<PyString>>,
    carriers: Vec<Option<Py<PyString>>>,
    empty: Py<PyString>,
}

impl Classifier {
    fn classify_bytes(&self, input: &[u8]) -> numbers::Classified {
        numbers::classify(&self.view, input)
    }
}

#[pymethods]
impl Classifier {
    #[new]
    fn new(py: Python<'_>, segments: Bound<'_, SegmentTable>) -> PyResult<Self> {
        let table = segments.get();
        let view = table.view;
        let mut regions = vec![None];
        for id in 1..view.region_count() {
            let r = view.region(id as u16).map_err(layout_err)?;
            regions.push(Some([
                PyString::intern(py, r.area_code).unbind(),
                PyString::intern(py, r.province).unbind(),
                PyString::intern(py, r.city).unbind(),
            ]));
        }
        Ok(Classifier {
            view,
            _storage: table.storage.clone(),
            segments: segments.unbind(),
            regions,
            kinds: KIND_NAMES
                .iter()
                .map(|k| PyString::intern(py, k).unbind())
                .collect(),
            carriers: CARRIERS
                .iter()
                .map(|c| (!c.is_empty()).then(|| PyString::intern(py, c).unbind()))
                .collect(),
            empty: PyString::intern(py, "").unbind(),
        })
    }

    #[getter]
    fn segments(&self, py: Python<'_>) -> Py<SegmentTable> {
        self.segments.clone_ref(py)
    }

    /// Normalise and classify one caller string; never raises for any string.
    fn classify(&self, py: Python<'_>, number: &Bound<'_, PyString>) -> Caller {
        let c = match number.to_str() {
            Ok(s) => self.classify_bytes(s.as_bytes()),
            Err(_) => self.classify_bytes(b"?"), // lone surrogates: not a phone number
        };
        let number = if c.number().is_empty() {
            self.empty.clone_ref(py)
        } else {
            PyString::new(py, c.number()).unbind()
        };
        let region = self.regions.get(c.region as usize).and_then(|r| r.as_ref());
        let pick = |i: usize| region.map(|r| r[i].clone_ref(py));
        Caller {
            kind: self.kinds[c.kind as usize].clone_ref(py),
            number,
            area_code: pick(0),
            province: pick(1),
            city: pick(2),
            carrier: self
                .carriers
                .get(c.carrier as usize)
                .and_then(|c| c.as_ref().map(|s| s.clone_ref(py))),
        }
    }

    /// (kind code, normalised number, region id, carrier code).
    fn classify_raw(&self, number: &Bound<'_, PyAny>) -> PyResult<(u8, String, u16, u8)> {
        let c = if let Ok(s) = number.cast::<PyString>() {
            match s.to_str() {
                Ok(s) => self.classify_bytes(s.as_bytes()),
                Err(_) => self.classify_bytes(b"?"),
            }
        } else {
            self.classify_bytes(number.extract::<&[u8]>()?)
        };
        Ok((c.kind as u8, c.number().to_string(), c.region, c.carrier))
    }

    /// Batch: `data` holds `len(data) / itemsize` fixed-width NUL-padded byte strings.
    /// Returns (kind codes, region ids) as NumPy arrays. The GIL is released meanwhile.
    fn _classify_fixed<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        itemsize: usize,
    ) -> PyResult<BatchArrays<'py>> {
        let buf = PyBuffer::<u8>::get(data)?;
        if !buf.is_c_contiguous() || itemsize == 0 || buf.len_bytes() % itemsize != 0 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "expected a contiguous buffer of fixed-width items",
            ));
        }
        // SAFETY: contiguous and held (pinned) for the whole call.
        let bytes =
            unsafe { std::slice::from_raw_parts(buf.buf_ptr() as *const u8, buf.len_bytes()) };
        let n = bytes.len() / itemsize;
        let view = self.view;
        let (kinds, regions) = py.detach(|| {
            let mut kinds = Vec::with_capacity(n);
            let mut regions = Vec::with_capacity(n);
            for item in bytes.chunks_exact(itemsize) {
                let end = item.iter().position(|&b| b == 0).unwrap_or(item.len());
                let c = numbers::classify_region(&view, &item[..end]);
                kinds.push(c.kind as u8);
                regions.push(c.region);
            }
            (kinds, regions)
        });
        Ok((kinds.into_pyarray(py), regions.into_pyarray(py)))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SegmentTable>()?;
    m.add_class::<Caller>()?;
    m.add_class::<Classifier>()
}
