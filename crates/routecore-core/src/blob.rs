//! A table of opaque bytes (magic `RCBL`, version 1): `u32` payload length at 16, then the
//! payload from 24. Images carry a flow's structure this way, decoded only when a call for
//! that number arrives, so opening an image never touches it.

use crate::layout::{corrupt, open_table, Bytes, LayoutResult, TableWriter};

pub const MAGIC: &[u8; 4] = b"RCBL";
pub const VERSION: u16 = 1;

pub fn build(payload: &[u8]) -> Vec<u8> {
    let mut w = TableWriter::new(MAGIC, VERSION);
    w.u32(payload.len() as u32).u32(0).bytes(payload);
    w.finish()
}

/// The payload of a blob table.
pub fn payload(data: &[u8]) -> LayoutResult<&[u8]> {
    let table = open_table(data, MAGIC, VERSION, "blob")?;
    let b = Bytes::new(table, "blob");
    let len = b.u32(16)? as usize;
    b.slice(24, len).map_err(|_| {
        corrupt(
            "blob",
            format!("payload of {len} bytes runs past the table"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let t = build(b"{\"a\": 1}");
        assert_eq!(payload(&t).unwrap(), b"{\"a\": 1}");
        assert!(payload(&t[..20]).is_err());
        assert_eq!(payload(&build(b"")).unwrap(), b"");
    }
}
