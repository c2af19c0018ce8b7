//! `routecore._native.Group`, `Attempt` and `MODES`: conversions and registration only.
//! The table layout and the check of an attempt live in `routecore_core::group`, the ordering
//! in `routecore_core::select`.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyInt, PyList, PyString, PyTuple};

use crate::errors::{layout_err, SelectionError};
use crate::storage::{extend, Storage};
use routecore_core::group::{self, GroupTable};
use routecore_core::select::{self, Request, MAX_DESTINATIONS, MODES};

fn selection_err(e: select::SelectionError) -> PyErr {
    SelectionError::new_err(e.0)
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// One attempt of a call: the destinations rung together, and for how long.
#[pyclass(module = "routecore._native", name = "Attempt", frozen)]
pub struct Attempt {
    targets: Box<[u8]>,
    timeout: u16,
}

#[pymethods]
impl Attempt {
    #[new]
    fn new(targets: Vec<i64>, timeout: i64) -> PyResult<Self> {
        let (targets, timeout) = group::attempt(&targets, timeout).map_err(selection_err)?;
        Ok(Attempt {
            targets: targets.into_boxed_slice(),
            timeout,
        })
    }

    #[getter]
    fn targets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.targets.iter())
    }

    #[getter]
    fn timeout(&self) -> u16 {
        self.timeout
    }

    fn __eq__(&self, other: PyRef<'_, Self>) -> bool {
        self.targets == other.targets && self.timeout == other.timeout
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.targets.hash(&mut h);
        self.timeout.hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        let inner: Vec<String> = self.targets.iter().map(u8::to_string).collect();
        let comma = if inner.len() == 1 { "," } else { "" };
        format!(
            "Attempt(targets=({}{comma}), timeout={})",
            inner.join(", "),
            self.timeout
        )
    }
}

/// A ring group: destinations, weights and distribution mode, in a flat `RCGR` table.
#[pyclass(module = "routecore._native", name = "Group", frozen)]
pub struct Group {
    table: GroupTable<'static>,
    _storage: Arc<Storage>,
    /// The single-target attempts, made once: most modes return only these.
    singles: PyOnceLock<Vec<Py<Attempt>>>,
}

impl Group {
    /// A group over bytes held by `storage` from `start` on (also used by `Image`).
    pub fn from_storage(storage: Arc<Storage>, start: usize) -> PyResult<Self> {
        // SAFETY: the slice borrows `storage`, which this object keeps alive.
        let bytes = unsafe { extend(storage.bytes().get(start..).unwrap_or(&[])) };
        let table = GroupTable::open(bytes).map_err(layout_err)?;
        Ok(Group {
            table,
            _storage: storage,
            singles: PyOnceLock::new(),
        })
    }
}

/// A Python int argument as an i64 index; an int too large for i64 is out of range.
fn index_arg(what: &str, value: Option<&Bound<'_, PyAny>>, n: usize) -> PyResult<Option<i64>> {
    let Some(v) = value else { return Ok(None) };
    if let Ok(i) = v.extract::<i64>() {
        return Ok(Some(i));
    }
    if v.cast::<PyInt>().is_ok() {
        return Err(selection_err(select::out_of_range(
            what,
            &v.repr()?.to_string(),
            n,
        )));
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be an int or None, not {}",
        type_name(v)
    )))
}

/// A list of `len` items made by `item(index)`, filled in place (no intermediate vector).
fn new_list<'py, T>(
    py: Python<'py>,
    len: usize,
    mut item: impl FnMut(usize) -> PyResult<Py<T>>,
) -> PyResult<Bound<'py, PyList>> {
    // SAFETY: PyList_New returns a new reference (or NULL with an exception set); each slot
    // is set exactly once with an owned reference, and a list dropped with slots still NULL
    // (on an error) is valid: its deallocation skips them.
    unsafe {
        let list = Bound::from_owned_ptr_or_err(py, ffi::PyList_New(len as ffi::Py_ssize_t))?
            .cast_into_unchecked::<PyList>();
        for a in 0..len {
            let obj = item(a)?;
            ffi::PyList_SET_ITEM(list.as_ptr(), a as ffi::Py_ssize_t, obj.into_ptr());
        }
        Ok(list)
    }
}

/// Whether a destination is idle: `True`/`False` by identity, anything else by truth value.
#[inline]
fn truthy(x: &Bound<'_, PyAny>) -> PyResult<bool> {
    let p = x.as_ptr();
    // SAFETY: Py_True and Py_False are immortal singletons; only their addresses are read.
    unsafe {
        if p == ffi::Py_True() {
            return Ok(true);
        }
        if p == ffi::Py_False() {
            return Ok(false);
        }
    }
    x.is_truthy()
}

/// The items of a tuple or a list, the two shapes of a (number, weight) pair.
fn as_pair<'py>(item: &Bound<'py, PyAny>) -> Option<Vec<Bound<'py, PyAny>>> {
    if let Ok(t) = item.cast::<PyTuple>() {
        Some(t.iter().collect())
    } else if let Ok(l) = item.cast::<PyList>() {
        Some(l.iter().collect())
    } else {
        None
    }
}

#[pymethods]
impl Group {
    /// A group of `destinations`: numbers, or (number, weight) pairs (weight 1 if absent).
    ///
    /// Raises SelectionError naming the problem: 1–100 destinations, numbers of 3–20 ASCII
    /// digits without repeats, weights 0–65535, a known mode, ring_timeout 1–600 seconds.
    #[staticmethod]
    #[pyo3(signature = (destinations, *, mode = "sequential", idle_first = false, ring_timeout = 20))]
    fn build(
        destinations: &Bound<'_, PyAny>,
        mode: &str,
        idle_first: bool,
        ring_timeout: i64,
    ) -> PyResult<Self> {
        if destinations.is_instance_of::<PyString>() {
            return Err(SelectionError::new_err(
                "destinations must be a sequence of numbers, not a str",
            ));
        }
        let n = destinations.len()?;
        if n == 0 || n > MAX_DESTINATIONS {
            return Err(selection_err(group::bad_count(n)));
        }
        let mut numbers: Vec<String> = Vec::with_capacity(n);
        let mut weights: Vec<i64> = Vec::with_capacity(n);
        for (i, item) in destinations.try_iter()?.enumerate() {
            let item = item?;
            let (number, weight) = if item.is_instance_of::<PyString>() {
                (item, None)
            } else if let Some(pair) = as_pair(&item) {
                let [number, weight] = <[_; 2]>::try_from(pair).map_err(|p| {
                    SelectionError::new_err(format!(
                        "destination {i}: a (number, weight) pair has 2 items, got {}",
                        p.len()
                    ))
                })?;
                (number, Some(weight))
            } else {
                return Err(SelectionError::new_err(format!(
                    "destination {i}: expected a number or a (number, weight) pair, got {}",
                    type_name(&item)
                )));
            };
            let Ok(number) = number.cast::<PyString>() else {
                return Err(SelectionError::new_err(format!(
                    "destination {i}: number must be a str, got {}",
                    type_name(&number)
                )));
            };
            numbers.push(number.to_str()?.to_owned());
            let weight = match weight {
                None => 1,
                Some(w) => {
                    let as_int = if w.is_instance_of::<PyBool>() {
                        None
                    } else {
                        w.extract::<i64>().ok()
                    };
                    match as_int {
                        Some(v) => v,
                        None => {
                            return Err(selection_err(group::bad_weight(i, &w.repr()?.to_string())))
                        }
                    }
                }
            };
            weights.push(weight);
        }
        let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let table =
            group::build(&refs, &weights, mode, idle_first, ring_timeout).map_err(selection_err)?;
        Group::from_storage(Storage::owned(table), 0)
    }

    /// Open a group table in place (bytes, bytearray, memoryview, mmap); O(1).
    ///
    /// Raises LayoutError on a truncated or foreign buffer or another layout version.
    #[staticmethod]
    fn from_buffer(buf: &Bound<'_, PyAny>) -> PyResult<Self> {
        Group::from_storage(Storage::from_python(buf)?, 0)
    }

    #[getter]
    fn numbers(&self) -> PyResult<Vec<&str>> {
        self._storage.checked(
            (0..self.table.len())
                .map(|i| self.table.number(i).map_err(layout_err))
                .collect(),
        )
    }

    #[getter]
    fn weights(&self) -> PyResult<Vec<u16>> {
        self._storage.read(
            (0..self.table.len())
                .map(|i| self.table.weight(i))
                .collect(),
        )
    }

    #[getter]
    fn mode(&self) -> PyResult<&'static str> {
        self._storage.read(self.table.mode().name())
    }

    #[getter]
    fn idle_first(&self) -> PyResult<bool> {
        self._storage.read(self.table.idle_first())
    }

    #[getter]
    fn ring_timeout(&self) -> PyResult<u16> {
        self._storage.read(self.table.ring_timeout())
    }

    fn __len__(&self) -> PyResult<usize> {
        self._storage.read(self.table.len())
    }

    fn __repr__(&self) -> PyResult<String> {
        self._storage.read(format!(
            "Group(n={}, mode='{}', idle_first={}, ring_timeout={})",
            self.table.len(),
            self.table.mode().name(),
            if self.table.idle_first() {
                "True"
            } else {
                "False"
            },
            self.table.ring_timeout()
        ))
    }

    /// The ordered attempts of one call, each with the group's ring timeout.
    ///
    /// `seed` (0..2**64-1) seeds SplitMix64; `idle` has one flag per destination (None: all
    /// idle); `cursor` is the index chosen last time (round robin); `preferred` the
    /// destination that last answered this caller today, put first alone if it is idle (a
    /// busy one keeps its normal place). The order and draws of each mode are those of
    /// `routecore.py.select`.
    #[pyo3(signature = (*, seed = 0, idle = None, cursor = None, preferred = None))]
    fn attempts<'py>(
        &self,
        py: Python<'py>,
        seed: i128,
        idle: Option<&Bound<'py, PyAny>>,
        cursor: Option<&Bound<'py, PyAny>>,
        preferred: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let n = self.table.len();
        let Ok(seed) = u64::try_from(seed) else {
            return Err(SelectionError::new_err(format!(
                "seed must be an int in 0..2**64-1, got {seed}"
            )));
        };
        let mut flags = [true; MAX_DESTINATIONS];
        let idle = match idle {
            None => None,
            Some(obj) => {
                let len = obj.len()?;
                if len != n {
                    return Err(selection_err(select::bad_idle_len(len, n)));
                }
                if let Ok(list) = obj.cast::<PyList>() {
                    for (f, x) in flags.iter_mut().zip(list.iter()) {
                        *f = truthy(&x)?;
                    }
                } else if let Ok(tuple) = obj.cast::<PyTuple>() {
                    for (f, x) in flags.iter_mut().zip(tuple.iter()) {
                        *f = truthy(&x)?;
                    }
                } else {
                    let mut k = 0;
                    for x in obj.try_iter()? {
                        if k >= n {
                            return Err(selection_err(select::bad_idle_len(k + 1, n)));
                        }
                        flags[k] = truthy(&x?)?;
                        k += 1;
                    }
                    if k != n {
                        return Err(selection_err(select::bad_idle_len(k, n)));
                    }
                }
                Some(&flags[..n])
            }
        };
        let req = Request {
            seed,
            idle,
            cursor: index_arg("cursor", cursor, n)?,
            preferred: index_arg("preferred", preferred, n)?,
        };
        let timeout = self.table.ring_timeout();
        let sel = self
            ._storage
            .checked(self.table.select(&req).map_err(selection_err))?;
        let singles = self.singles.get_or_try_init(py, || {
            (0..n)
                .map(|i| {
                    Py::new(
                        py,
                        Attempt {
                            targets: Box::new([i as u8]),
                            timeout,
                        },
                    )
                })
                .collect::<PyResult<Vec<_>>>()
        })?;
        new_list(py, sel.len(), |a| {
            Ok(match sel.attempt(a) {
                [i] => singles[*i as usize].clone_ref(py),
                targets => Py::new(
                    py,
                    Attempt {
                        targets: targets.into(),
                        timeout,
                    },
                )?,
            })
        })
    }

    /// Exactly the table's bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self._storage.read(PyBytes::new(py, self.table.bytes()))
    }

    /// Check the CRC, then every entry (numbers readable, valid, distinct); LayoutError if not.
    fn verify(&self) -> PyResult<()> {
        self._storage
            .checked(self.table.verify().map_err(layout_err))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Group>()?;
    m.add_class::<Attempt>()?;
    m.add("MODES", PyTuple::new(m.py(), MODES)?)
}
