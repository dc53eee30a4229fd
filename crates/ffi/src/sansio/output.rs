//! Output: the bytes to write to the socket, copied out or lent.

use super::conn::sockeye_conn;
use crate::boundary::{self, guard, guard_value};
use crate::result::sockeye_result;

/// How many bytes wait to be written to the socket; 0 for NULL.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread changes during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_output_len(conn: *const sockeye_conn) -> usize {
    guard_value(0, || {
        // SAFETY: NULL or a live connection, by the contract.
        unsafe { conn.as_ref() }.map_or(0, sockeye_conn::output_len)
    })
}

/// Copies up to `cap` bytes of output into `buf`, writes how many to
/// `*written` and forgets them: write them to the socket. Writes 0 when
/// nothing waits. Returns `SOCKEYE_ERR_BUFFER_TOO_SMALL` (nothing taken)
/// when `cap` is 0 while bytes wait. `buf` may be NULL when `cap` is 0.
///
/// Write everything before reading again: then all that one read caused
/// leaves in one write.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call; when `cap > 0`, `buf` is NULL or points to `cap` writable bytes;
/// `written` is NULL or points to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_take_output(
    conn: *mut sockeye_conn,
    buf: *mut u8,
    cap: usize,
    written: *mut usize,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        if written.is_null() {
            return Err(conn.fail_call(sockeye_result::SOCKEYE_ERR_NULL, "written is NULL"));
        }
        // SAFETY: `buf` holds `cap` writable bytes, by the contract.
        let buf = match unsafe { boundary::buffer(buf, cap) } {
            Ok(buf) => buf,
            Err(code) => return Err(conn.fail_call(code, "buf is NULL with cap > 0")),
        };
        if buf.is_empty() && conn.output_len() > 0 {
            return Err(conn.fail_call(
                sockeye_result::SOCKEYE_ERR_BUFFER_TOO_SMALL,
                "cap is 0 while output waits",
            ));
        }
        let mut filled = 0;
        while filled < buf.len() {
            let chunk = conn.output_chunk();
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len().min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&chunk[..n]);
            conn.consume(n);
            filled += n;
        }
        // SAFETY: `written` is not NULL and writable, by the contract.
        unsafe { boundary::write_out(written, filled) }
    })
}

/// Lends the first contiguous bytes of output, without copying: writes
/// their address to `*data` and their length to `*len` (0 when nothing
/// waits; `*data` is then still not NULL). They stay valid until the next
/// call on the connection. After writing some of them to the socket, call
/// `sockeye_conn_consume_output` with how many were written, then peek
/// again: the output may be in several chunks.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call; `data` and `len` are NULL or point to writable memory for a
/// pointer and a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_peek_output(
    conn: *mut sockeye_conn,
    data: *mut *const u8,
    len: *mut usize,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        if data.is_null() || len.is_null() {
            return Err(conn.fail_call(sockeye_result::SOCKEYE_ERR_NULL, "data or len is NULL"));
        }
        let chunk = conn.output_chunk();
        let (ptr, n) = if chunk.is_empty() {
            (c"".as_ptr().cast::<u8>(), 0)
        } else {
            (chunk.as_ptr(), chunk.len())
        };
        // SAFETY: both are not NULL and writable, by the contract.
        unsafe {
            boundary::write_out(data, ptr)?;
            boundary::write_out(len, n)
        }
    })
}

/// Forgets the first `n` bytes of output, once they are written to the
/// socket. `n` may span several chunks lent by `sockeye_conn_peek_output`.
/// Returns `SOCKEYE_ERR_INVALID` (nothing forgotten) when `n` is more than
/// `sockeye_conn_output_len`.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_consume_output(
    conn: *mut sockeye_conn,
    n: usize,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        if n > conn.output_len() {
            return Err(conn.fail_call(
                sockeye_result::SOCKEYE_ERR_INVALID,
                "n is more than the output waiting",
            ));
        }
        conn.consume(n);
        Ok(())
    })
}
