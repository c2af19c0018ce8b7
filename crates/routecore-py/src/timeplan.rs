//! `routecore._native.TimePlan`: conversions around `routecore_core::timeplan`. One call goes
//! back into Python: `build` without a calendar takes China's from
//! `routecore.data.holidays.china_calendar()` (the holidays come from the `chinesecalendar`
//! package).

use std::sync::Arc;

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBytes, PyDate, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyFloat, PyMapping,
    PyString, PyTimeAccess, PyTzInfoAccess,
};

use crate::errors::{layout_err, TimePlanError};
use crate::storage::{extend, Storage};
use routecore_core::timeplan::{self, DateSpec, LookupError, PlanSpec, TimePlanView};

#[pyclass(module = "routecore._native", name = "TimePlan", frozen)]
pub struct TimePlan {
    // Borrows `_storage`, declared after it so it never outlives it.
    view: TimePlanView<'static>,
    _storage: Arc<Storage>,
    /// Slot names as Python strings, made once: `slot_at` returns these.
    names: PyOnceLock<Vec<Py<PyString>>>,
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn lookup_err(e: LookupError) -> PyErr {
    match e {
        LookupError::OutOfRange(t) => out_of_range(&t.to_string()),
        LookupError::Layout(e) => layout_err(e),
    }
}

fn out_of_range(when: &str) -> PyErr {
    let msg = timeplan::out_of_range(when);
    TimePlanError::new_err((msg.clone(), vec![msg]))
}

/// A list of strings from a str (one item) or an iterable of str.
fn strings(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(vec![s.to_str()?.to_string()]);
    }
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        let item = item?;
        match item.cast::<PyString>() {
            Ok(s) => out.push(s.to_str()?.to_string()),
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "{what} must be str, not {}",
                    type_name(&item)
                )))
            }
        }
    }
    Ok(out)
}

fn string(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(s) => Ok(s.to_str()?.to_string()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{what} must be str, not {}",
            type_name(obj)
        ))),
    }
}

/// A date or `YYYY-MM-DD` text as text (the core parses and checks it).
fn date_text(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_str()?.to_string());
    }
    if let Ok(d) = obj.cast::<PyDate>() {
        let (y, m, d) = (d.get_year(), d.get_month(), d.get_day());
        return Ok(format!("{y:04}-{m:02}-{d:02}"));
    }
    Err(PyTypeError::new_err(format!(
        "dates must be date or \"YYYY-MM-DD\" str, not {}",
        type_name(obj)
    )))
}

/// slot -> rules, in the mapping's order.
fn slot_rules(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<(String, Vec<String>)>> {
    let mapping = obj.cast::<PyMapping>().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be a mapping, not {}", type_name(obj)))
    })?;
    let mut out = Vec::new();
    for item in mapping.items()?.iter() {
        let (name, rules): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let name = string(&name, "slot names")?;
        let rules = strings(&rules, &format!("rules of slot \"{name}\""))?;
        out.push((name, rules));
    }
    Ok(out)
}

fn calendar_entries(obj: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        let (date, kind): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        out.push((date_text(&date)?, string(&kind, "calendar kinds")?));
    }
    Ok(out)
}

fn date_entries(obj: &Bound<'_, PyAny>) -> PyResult<Vec<(String, DateSpec)>> {
    let mapping = obj.cast::<PyMapping>().map_err(|_| {
        PyTypeError::new_err(format!("dates must be a mapping, not {}", type_name(obj)))
    })?;
    let mut out = Vec::new();
    for item in mapping.items()?.iter() {
        let (date, what): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let date = date_text(&date)?;
        let spec = match what.cast::<PyString>() {
            Ok(s) => DateSpec::Profile(s.to_str()?.to_string()),
            Err(_) => DateSpec::Day(slot_rules(&what, "a date's value")?),
        };
        out.push((date, spec));
    }
    Ok(out)
}

/// Seconds since the epoch of an int or a float (floored).
fn epoch_of(when: &Bound<'_, PyAny>) -> PyResult<i64> {
    if let Ok(f) = when.cast::<PyFloat>() {
        return match timeplan::epoch_from_f64(f.value()) {
            Some(t) => Ok(t),
            None => Err(out_of_range(&when.str()?.to_string())),
        };
    }
    match when.extract::<i64>() {
        Ok(v) => Ok(v),
        Err(e) if e.is_instance_of::<PyOverflowError>(when.py()) => {
            Err(out_of_range(&when.str()?.to_string()))
        }
        Err(_) => Err(PyTypeError::new_err(format!(
            "expected a datetime or epoch seconds, not {}",
            type_name(when)
        ))),
    }
}

#[pymethods]
impl TimePlan {
    #[staticmethod]
    #[pyo3(signature = (slots, *, tz = "Asia/Shanghai", default = None, calendar = None, dates = None, workday_as = "mon"))]
    fn build(
        py: Python<'_>,
        slots: &Bound<'_, PyAny>,
        tz: &str,
        default: Option<String>,
        calendar: Option<&Bound<'_, PyAny>>,
        dates: Option<&Bound<'_, PyAny>>,
        workday_as: &str,
    ) -> PyResult<TimePlan> {
        let calendar = match calendar {
            Some(c) => calendar_entries(c)?,
            None => calendar_entries(
                &py.import("routecore.data.holidays")?
                    .getattr("china_calendar")?
                    .call0()?,
            )?,
        };
        let spec = PlanSpec {
            slots: slot_rules(slots, "slots")?,
            tz: tz.to_string(),
            default,
            calendar,
            dates: match dates {
                Some(d) => date_entries(d)?,
                None => Vec::new(),
            },
            workday_as: workday_as.to_string(),
        };
        let table = py
            .detach(|| timeplan::build(&spec))
            .map_err(|e| TimePlanError::new_err((e.message(), e.problems)))?;
        Self::open(Storage::owned(table))
    }

    #[staticmethod]
    fn from_buffer(buf: &Bound<'_, PyAny>) -> PyResult<TimePlan> {
        Self::open(Storage::from_python(buf)?)
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self._storage.read(PyBytes::new(py, self.view.bytes()))
    }

    fn verify(&self) -> PyResult<()> {
        self._storage
            .checked(self.view.verify().map_err(layout_err))
    }

    #[getter]
    fn slot_names(&self) -> PyResult<Vec<String>> {
        let names = self.view.slot_names().map_err(layout_err);
        Ok(self
            ._storage
            .checked(names)?
            .into_iter()
            .map(str::to_string)
            .collect())
    }

    #[getter]
    fn tz(&self) -> PyResult<String> {
        let tz = self.view.tz_name().map_err(layout_err);
        Ok(self._storage.checked(tz)?.to_string())
    }

    fn slot_id_at(&self, epoch_seconds: &Bound<'_, PyAny>) -> PyResult<u16> {
        let t = epoch_of(epoch_seconds)?;
        self._storage
            .checked(self.view.slot_id_at(t).map_err(lookup_err))
    }

    fn slot_at(&self, when: &Bound<'_, PyAny>) -> PyResult<Py<PyString>> {
        self._storage.checked(self.slot_at_unchecked(when))
    }

    fn slot_ids_at<'py>(
        &self,
        py: Python<'py>,
        epochs: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<i32>>> {
        let view = self.view;
        let arr = epochs.as_array();
        let mut out = Vec::with_capacity(arr.len());
        let done = py.detach(|| view.slot_ids_at(arr.iter().copied(), &mut out));
        self._storage.checked(done.map_err(lookup_err))?;
        Ok(PyArray1::from_vec(py, out))
    }
}

impl TimePlan {
    /// `slot_at` without the look at the storage after it.
    fn slot_at_unchecked(&self, when: &Bound<'_, PyAny>) -> PyResult<Py<PyString>> {
        let slot = if let Ok(dt) = when.cast::<PyDateTime>() {
            let days =
                timeplan::days_from_ymd(dt.get_year(), dt.get_month().into(), dt.get_day().into())
                    .ok_or_else(|| out_of_range(&when.to_string()))?;
            let (h, mi) = (dt.get_hour() as i64, dt.get_minute() as i64);
            let offset = match dt.get_tzinfo() {
                Some(tz) => tz.call_method1("utcoffset", (dt,))?,
                None => when.py().None().into_bound(when.py()),
            };
            if offset.is_none() {
                // Naive: the wall clock in the plan's zone.
                self.view
                    .slot_at_local(days, (h * 60 + mi) as u16)
                    .map_err(layout_err)?
            } else {
                let offset = offset.cast::<PyDelta>()?;
                let off = (offset.get_days() as i64 * 86_400 + offset.get_seconds() as i64)
                    * 1_000_000
                    + offset.get_microseconds() as i64;
                let hms = (
                    dt.get_hour().into(),
                    dt.get_minute().into(),
                    dt.get_second().into(),
                );
                let t = timeplan::epoch_from_local(days, hms, dt.get_microsecond(), off);
                self.view.slot_id_at(t).map_err(lookup_err)?
            }
        } else {
            self.view.slot_id_at(epoch_of(when)?).map_err(lookup_err)?
        };
        self.names(when.py())?
            .get(slot as usize)
            .map(|s| s.clone_ref(when.py()))
            .ok_or_else(|| {
                layout_err(routecore_core::layout::corrupt(
                    "time plan",
                    "slot out of range",
                ))
            })
    }

    fn open(storage: Arc<Storage>) -> PyResult<TimePlan> {
        Self::from_storage(storage, 0)
    }

    fn names(&self, py: Python<'_>) -> PyResult<&Vec<Py<PyString>>> {
        self.names.get_or_try_init(py, || {
            let names = self.view.slot_names().map_err(layout_err)?;
            Ok(names
                .iter()
                .map(|n| PyString::intern(py, n).unbind())
                .collect())
        })
    }

    /// A plan over bytes held by `storage` from `start` on (also used by `Image`).
    pub fn from_storage(storage: Arc<Storage>, start: usize) -> PyResult<TimePlan> {
        // SAFETY: the view is stored next to the Arc that owns its bytes (see `extend`).
        let bytes = unsafe { extend(storage.bytes().get(start..).unwrap_or(&[])) };
        let view = TimePlanView::open(bytes).map_err(layout_err)?;
        Ok(TimePlan {
            view,
            _storage: storage,
            names: PyOnceLock::new(),
        })
    }
}

/// Whether the core knows the IANA time zone `name`.
#[pyfunction]
fn zone_known(name: &str) -> bool {
    timeplan::zone_known(name)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TimePlan>()?;
    m.add_function(wrap_pyfunction!(zone_known, m)?)
}
