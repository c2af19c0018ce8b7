//! Where a table's bytes live: a copy, a memory map of a file, or a Python buffer
//! (bytes, mmap.mmap, memoryview…) held for as long as the table object lives.

use std::fs::File;
use std::sync::Arc;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

use super::errors::LayoutError;

pub enum Storage {
    Owned(Box<[u8]>),
    Mapped(memmap2::Mmap),
    Python(PyBuffer<u8>),
}

impl Storage {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Storage::Owned(b) => b,
            Storage::Mapped(m) => m,
            // SAFETY: the buffer is C-contiguous (checked in `from_python`) and stays
            // exported (its memory pinned) for as long as the PyBuffer is held.
            Storage::Python(b) => unsafe {
                std::slice::from_raw_parts(b.buf_ptr() as *const u8, b.len_bytes())
            },
        }
    }

    pub fn owned(data: Vec<u8>) -> Arc<Storage> {
        Arc::new(Storage::Owned(data.into_boxed_slice()))
    }

    /// Map a file read-only. Routing images are replaced by rename, never rewritten in place.
    pub fn map_file(path: &str) -> PyResult<Arc<Storage>> {
        let file = File::open(path).map_err(|e| PyOSError::new_err(format!("{path}: {e}")))?;
        let len = file
            .metadata()
            .map_err(|e| PyOSError::new_err(format!("{path}: {e}")))?
            .len();
        if len == 0 {
            return Err(LayoutError::new_err(format!("{path}: empty file")));
        }
        // SAFETY: the map is read-only. Routing images are published by rename, never rewritten
        // in place (an operator copying over a live image breaks that rule: a page past the end
        // of a file truncated under the map then raises SIGBUS; `routecore.live` looks for it).
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| PyOSError::new_err(format!("{path}: {e}")))?;
        Ok(Arc::new(Storage::Mapped(map)))
    }

    /// Hold a Python object's buffer and read it in place.
    pub fn from_python(obj: &Bound<'_, PyAny>) -> PyResult<Arc<Storage>> {
        let buf = PyBuffer::<u8>::get(obj)?;
        if !buf.is_c_contiguous() {
            return Err(LayoutError::new_err("buffer is not contiguous"));
        }
        Ok(Arc::new(Storage::Python(buf)))
    }
}

/// Lengthen a borrow of bytes owned by an `Arc<Storage>` to `'static`.
///
/// # Safety
/// The caller keeps a clone of the `Arc` in the same object as the returned slice, and never
/// lets the slice outlive it.
pub unsafe fn extend(bytes: &[u8]) -> &'static [u8] {
    std::mem::transmute::<&[u8], &'static [u8]>(bytes)
}
