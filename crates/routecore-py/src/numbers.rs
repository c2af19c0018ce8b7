//! `routecore._native.Classifier` and `Caller`: conversions around `routecore_core::numbers`.
//! Python strings of regions, kinds and carriers are made once per classifier, so a
//! classification allocates only the Caller and its number.

use std::sync::Arc;

use numpy::{IntoPyArray, PyArray1};
use pyo3::basic::CompareOp;
use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::errors::layout_err;
use crate::segments::SegmentTable;
use crate::storage::Storage;
use routecore_core::numbers::{self, KIND_NAMES};
use routecore_core::segments::{SegmentView, CARRIERS};

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
        table.storage.intact()?;
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

    /// Normalise and classify one caller string; never raises for any string (LayoutError
    /// only when the image file holding its table was truncated under this process).
    fn classify(&self, py: Python<'_>, number: &Bound<'_, PyString>) -> PyResult<Caller> {
        let c = match number.to_str() {
            Ok(s) => self.classify_bytes(s.as_bytes()),
            Err(_) => self.classify_bytes(b"?"), // lone surrogates: not a phone number
        };
        self._storage.intact()?;
        let number = if c.number().is_empty() {
            self.empty.clone_ref(py)
        } else {
            PyString::new(py, c.number()).unbind()
        };
        let region = self.regions.get(c.region as usize).and_then(|r| r.as_ref());
        let pick = |i: usize| region.map(|r| r[i].clone_ref(py));
        Ok(Caller {
            kind: self.kinds[c.kind as usize].clone_ref(py),
            number,
            area_code: pick(0),
            province: pick(1),
            city: pick(2),
            carrier: self
                .carriers
                .get(c.carrier as usize)
                .and_then(|c| c.as_ref().map(|s| s.clone_ref(py))),
        })
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
        self._storage.intact()?;
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
        if !buf.is_c_contiguous() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "expected a contiguous buffer of fixed-width items",
            ));
        }
        // SAFETY: contiguous and held (pinned) for the whole call.
        let bytes =
            unsafe { std::slice::from_raw_parts(buf.buf_ptr() as *const u8, buf.len_bytes()) };
        let view = self.view;
        let (kinds, regions) = py
            .detach(|| numbers::classify_fixed(&view, bytes, itemsize))
            .ok_or_else(|| {
                pyo3::exceptions::PyValueError::new_err(
                    "expected a contiguous buffer of fixed-width items",
                )
            })?;
        self._storage.intact()?;
        Ok((kinds.into_pyarray(py), regions.into_pyarray(py)))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Caller>()?;
    m.add_class::<Classifier>()
}
