//! Where a table's bytes live: a copy, a memory map of a file, or a Python buffer
//! (bytes, mmap.mmap, memoryview…) held for as long as the table object lives.

use std::path::Path;
use std::sync::Arc;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

use crate::errors::LayoutError;
use routecore_core::image::{self, MapError, MappedFile};

pub enum Storage {
    Owned(Box<[u8]>),
    Mapped(MappedFile),
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

    /// Err (LayoutError) once the mapped file was truncated in place under this process: the
    /// bytes read since are zeros, not the table, so the operation that read them is void.
    /// Called after every operation that reads a table's bytes.
    #[inline]
    pub fn intact(&self) -> PyResult<()> {
        match self {
            Storage::Mapped(m) if m.broken() => Err(LayoutError::new_err(
                "the image file was truncated in place while this process used it (a bus \
                 error in its pages was caught; they read as zeros now): never copy over or \
                 truncate a live image (publish renames a new file into place); open it again",
            )),
            _ => Ok(()),
        }
    }

    /// `value`, read from this storage by the operation just done, unless the operation found
    /// the mapped file truncated under it (`intact`).
    #[inline]
    pub fn read<T>(&self, value: T) -> PyResult<T> {
        self.intact()?;
        Ok(value)
    }

    /// `result` of an operation on this storage, or LayoutError if the file broke under it.
    #[inline]
    pub fn checked<T>(&self, result: PyResult<T>) -> PyResult<T> {
        self.intact()?;
        result
    }

    pub fn owned(data: Vec<u8>) -> Arc<Storage> {
        Arc::new(Storage::Owned(data.into_boxed_slice()))
    }

    /// Map an image file read-only (`routecore_core::image::map_file`).
    pub fn map_file(path: &Path) -> PyResult<Arc<Storage>> {
        match image::map_file(path) {
            Ok(map) => Ok(Arc::new(Storage::Mapped(map))),
            Err(e @ MapError::Io(_)) => Err(PyOSError::new_err(e.to_string())),
            Err(e @ MapError::Empty(_)) => Err(LayoutError::new_err(e.to_string())),
        }
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
