//! `routecore._native.State`, `Claim` and `Destination`: conversions around
//! `routecore_core::state`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use numpy::PyArray1;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple, PyType};

use crate::errors::StateError;
use routecore_core::state::{self, local_day, ClaimedLease, Sizes, StateFile};

fn state_err(e: state::StateError) -> PyErr {
    StateError::new_err(e.0)
}

/// A small non-negative int argument; out of range is a StateError naming it.
fn small(value: i64, what: &str) -> PyResult<u32> {
    u32::try_from(value).map_err(|_| StateError::new_err(format!("{what} {value} is out of range")))
}

fn lease_ms(seconds: f64) -> PyResult<u64> {
    state::lease_ms(seconds).map_err(state_err)
}

/// A claim: one lease on each claimed destination.
#[pyclass(module = "routecore._native", name = "Claim", frozen)]
pub struct Claim {
    #[pyo3(get)]
    numbers: Py<PyTuple>,
    #[pyo3(get)]
    call_id: String,
    inner: state::Claim,
}

#[pymethods]
impl Claim {
    /// (slot, lease, claim id) of each lease, in the order of `numbers`.
    #[getter]
    fn leases(&self) -> Vec<(u32, u32, u64)> {
        self.inner
            .leases
            .iter()
            .map(|l| (l.slot, l.lease, l.id))
            .collect()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Claim(numbers={}, call_id={:?})",
            self.numbers.bind(py).repr()?,
            self.call_id
        ))
    }
}

/// A destination as seen now.
#[pyclass(module = "routecore._native", name = "Destination", frozen, eq)]
#[derive(PartialEq)]
pub struct Destination {
    #[pyo3(get)]
    number: String,
    #[pyo3(get)]
    capacity: u32,
    #[pyo3(get)]
    online: bool,
    #[pyo3(get)]
    busy: u32,
    #[pyo3(get)]
    offered: u64,
    #[pyo3(get)]
    answered: u64,
    #[pyo3(get)]
    unanswered: u64,
    #[pyo3(get)]
    talk_seconds: u64,
}

impl From<state::DestinationInfo> for Destination {
    fn from(d: state::DestinationInfo) -> Self {
        Destination {
            number: d.number,
            capacity: d.capacity,
            online: d.online,
            busy: d.busy,
            offered: d.offered,
            answered: d.answered,
            unanswered: d.unanswered,
            talk_seconds: d.talk_seconds,
        }
    }
}

#[pymethods]
impl Destination {
    fn __repr__(&self) -> String {
        format!(
            "Destination(number={:?}, capacity={}, online={}, busy={}, offered={}, answered={}, \
             unanswered={}, talk_seconds={})",
            self.number,
            self.capacity,
            if self.online { "True" } else { "False" },
            self.busy,
            self.offered,
            self.answered,
            self.unanswered,
            self.talk_seconds
        )
    }
}

/// The shared call state of this host (see `docs/state-format.md`).
#[pyclass(module = "routecore._native", name = "State", frozen)]
pub struct State {
    file: StateFile,
    closed: AtomicBool,
}

impl State {
    fn f(&self) -> PyResult<&StateFile> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(StateError::new_err("the state is closed"));
        }
        self.file.intact().map_err(state_err)?;
        Ok(&self.file)
    }

    /// `op` on the open file: its result, unless the file broke under it (truncated in place:
    /// a bus error caught in its pages makes the operation void, a StateError).
    fn run<T>(&self, op: impl FnOnce(&StateFile) -> state::StateResult<T>) -> PyResult<T> {
        let file = self.f()?;
        let result = op(file);
        file.intact().map_err(state_err)?;
        result.map_err(state_err)
    }
}

#[pymethods]
impl State {
    #[classmethod]
    #[pyo3(signature = (
        path = None, *, destinations = 4096, memory = 65536, numbers = 1024, leases = None,
        counter_blocks = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        path: Option<PathBuf>,
        destinations: u32,
        memory: u32,
        numbers: u32,
        leases: Option<u32>,
        counter_blocks: Option<u32>,
    ) -> PyResult<Self> {
        let path = path.unwrap_or_else(state::default_path);
        let defaults = Sizes::with_defaults(destinations, memory, numbers);
        let sizes = Sizes {
            leases: leases.unwrap_or(defaults.leases),
            counter_blocks: counter_blocks.unwrap_or(defaults.counter_blocks),
            ..defaults
        };
        let file = py
            .detach(|| StateFile::create(&path, sizes))
            .map_err(state_err)?;
        Ok(State {
            file,
            closed: AtomicBool::new(false),
        })
    }

    #[classmethod]
    #[pyo3(signature = (path = None))]
    fn open(_cls: &Bound<'_, PyType>, path: Option<PathBuf>) -> PyResult<Self> {
        let path = path.unwrap_or_else(state::default_path);
        let file = StateFile::open(&path).map_err(state_err)?;
        Ok(State {
            file,
            closed: AtomicBool::new(false),
        })
    }

    #[getter]
    fn path(&self) -> String {
        self.file.path().to_string_lossy().into_owned()
    }
    #[getter]
    fn destinations(&self) -> u32 {
        self.file.sizes.destinations
    }
    #[getter]
    fn memory(&self) -> u32 {
        self.file.sizes.memory
    }
    #[getter]
    fn numbers(&self) -> u32 {
        self.file.sizes.numbers
    }
    #[getter]
    fn leases(&self) -> u32 {
        self.file.sizes.leases
    }
    #[getter]
    fn counter_blocks(&self) -> u32 {
        self.file.sizes.counter_blocks
    }
    /// (lease records, counter blocks) handed out from the pools so far.
    fn pool_use(&self) -> PyResult<(u32, u32)> {
        self.run(|f| Ok(f.pool_use()))
    }

    #[getter]
    fn generation(&self) -> PyResult<u64> {
        self.run(|f| Ok(f.generation()))
    }
    fn set_generation(&self, generation: u64) -> PyResult<()> {
        self.run(|f| {
            f.set_generation(generation);
            Ok(())
        })
    }
    fn bump_generation(&self) -> PyResult<u64> {
        self.run(|f| Ok(f.bump_generation()))
    }

    #[pyo3(signature = (number, *, capacity = 1, online = true))]
    fn add_destination(&self, number: &str, capacity: i64, online: bool) -> PyResult<()> {
        let capacity = small(capacity, "capacity")?;
        self.run(|f| f.add_destination(number, Some(capacity), Some(online)))
            .map(|_| ())
    }
    fn set_online(&self, number: &str, online: bool) -> PyResult<()> {
        self.run(|f| f.set_online(number, online))
    }
    fn set_capacity(&self, number: &str, capacity: i64) -> PyResult<()> {
        let capacity = small(capacity, "capacity")?;
        self.run(|f| f.set_capacity(number, capacity))
    }
    fn destination(&self, number: &str) -> PyResult<Option<Destination>> {
        Ok(self
            .run(|f| Ok(f.destination(number)))?
            .map(Destination::from))
    }
    #[pyo3(name = "destinations_now")]
    fn destinations_list(&self) -> PyResult<Vec<Destination>> {
        Ok(self
            .run(|f| f.destinations())?
            .into_iter()
            .map(Destination::from)
            .collect())
    }
    /// StateError if the file is no longer the one mapped, as mapped (truncated, rewritten in
    /// place, removed or replaced by another file).
    fn check(&self) -> PyResult<()> {
        self.run(|f| f.check_file())
    }
    /// Whether each number is idle now (unknown numbers count as idle).
    fn idle(&self, numbers: Vec<String>) -> PyResult<Vec<bool>> {
        let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
        self.run(|f| Ok(f.idle(&refs)))
    }

    #[pyo3(signature = (candidates, call_id, *, lease = 600.0, all = false))]
    fn claim(
        &self,
        py: Python<'_>,
        candidates: &Bound<'_, PyAny>,
        call_id: String,
        lease: f64,
        all: bool,
    ) -> PyResult<Option<Claim>> {
        let strings = strs(candidates)?;
        let refs: Vec<&str> = strings
            .iter()
            .map(|s| s.to_str())
            .collect::<PyResult<_>>()?;
        let lease = lease_ms(lease)?;
        let got = self.run(|f| f.claim(&refs, &call_id, lease, all))?;
        match got {
            None => Ok(None),
            Some(inner) => Ok(Some(Claim {
                numbers: PyTuple::new(py, &inner.numbers)?.unbind(),
                call_id,
                inner,
            })),
        }
    }

    #[pyo3(signature = (claim, *, keep = None))]
    fn release(&self, claim: &Bound<'_, PyAny>, keep: Option<&str>) -> PyResult<usize> {
        if let Ok(c) = claim.cast::<Claim>() {
            return self.run(|f| Ok(f.release(&c.get().inner, keep)));
        }
        let claim = claim_of(claim)?;
        self.run(|f| Ok(f.release(&claim, keep)))
    }
    fn extend(&self, claim: &Bound<'_, PyAny>, seconds: f64) -> PyResult<usize> {
        let (claim, lease) = (claim_of(claim)?, lease_ms(seconds)?);
        self.run(|f| Ok(f.extend(&claim, lease)))
    }
    fn reap(&self, py: Python<'_>) -> PyResult<usize> {
        self.run(|f| py.detach(|| f.reap()))
    }

    #[pyo3(signature = (did, caller, destination, at, *, tz = "Asia/Shanghai"))]
    fn remember(
        &self,
        did: &str,
        caller: &str,
        destination: &str,
        at: f64,
        tz: &str,
    ) -> PyResult<()> {
        self.run(|f| f.remember(did, caller, destination, at, tz))
    }
    #[pyo3(signature = (did, caller, at, *, tz = "Asia/Shanghai"))]
    fn recall(&self, did: &str, caller: &str, at: f64, tz: &str) -> PyResult<Option<String>> {
        self.run(|f| f.recall(did, caller, at, tz))
    }
    #[pyo3(signature = (did, branch, at, *, tz = "Asia/Shanghai"))]
    fn count_branch(&self, did: &str, branch: i64, at: f64, tz: &str) -> PyResult<()> {
        let day = local_day(at, tz).map_err(state_err)?;
        let branch = small(branch, "branch")?;
        self.run(|f| f.count_branch(did, branch, day))
    }
    #[pyo3(signature = (did, at, *, tz = "Asia/Shanghai"))]
    fn branch_counts<'py>(
        &self,
        py: Python<'py>,
        did: &str,
        at: f64,
        tz: &str,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        let day = local_day(at, tz).map_err(state_err)?;
        let counts = self.run(|f| Ok(f.branch_counts(did, day)))?;
        Ok(PyArray1::from_slice(py, &counts))
    }
    /// The round-robin cursor of (`did`, `group`): its value, then 1 more; None if no room.
    fn next_cursor(&self, did: &str, group: &str) -> PyResult<Option<u64>> {
        self.run(|f| f.next_cursor(did, group))
    }
    #[pyo3(signature = (number, *, answered, talk_seconds = 0))]
    fn record_attempt(&self, number: &str, answered: bool, talk_seconds: u64) -> PyResult<()> {
        self.run(|f| f.record_attempt(number, answered, talk_seconds))
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }
    fn __exit__(&self, _a: &Bound<'_, PyAny>, _b: &Bound<'_, PyAny>, _c: &Bound<'_, PyAny>) {
        self.close();
    }
    fn __repr__(&self) -> String {
        format!("State({:?})", self.path())
    }
}

/// The str items of a sequence (borrowed, no copies), or a TypeError.
fn strs<'py>(seq: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyString>>> {
    if seq.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "candidates must be a sequence of str, not a str",
        ));
    }
    seq.try_iter()?
        .map(|item| Ok(item?.cast_into::<PyString>()?))
        .collect()
}

/// A claim of either backend: its numbers, call id and (slot, lease, id) triples.
fn claim_of(obj: &Bound<'_, PyAny>) -> PyResult<state::Claim> {
    if let Ok(c) = obj.cast::<Claim>() {
        return Ok(c.get().inner.clone());
    }
    let numbers: Vec<String> = obj.getattr("numbers")?.extract()?;
    let leases: Vec<(u32, u32, u64)> = obj.getattr("leases")?.extract()?;
    Ok(state::Claim {
        numbers,
        leases: leases
            .into_iter()
            .map(|(slot, lease, id)| ClaimedLease { slot, lease, id })
            .collect(),
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("STATE_BRANCHES", state::BRANCHES)?;
    m.add_class::<State>()?;
    m.add_class::<Claim>()?;
    m.add_class::<Destination>()
}
