//! A VFS shim that gathers the writer's WAL writes into one system call per commit.
//!
//! Why this is `unsafe` code: SQLite writes each WAL frame with two `write` calls (a 24-byte
//! header, then the page), so a commit of a few hundred dirty pages makes several hundred
//! system calls, each a trip through the kernel's buffered-write path for a page that the next
//! call touches again. Perf of the MLLP benchmark (2026-11-26) put a third of the writer
//! thread's time in `walWriteOneFrame`, and the writer thread is the bottleneck of every
//! durable write path. SQLite offers no setting for this; a VFS is its interface for it, and
//! a VFS is C function pointers.
//!
//! What it does: the `medulla-wal` VFS is the default (unix) VFS with one change: a file opened
//! as a WAL gets methods that append contiguous writes to a buffer (up to [`MAX_PENDING`]
//! bytes) and pass everything else through. The buffer is written out, in order, before any
//! other method touches the file (read, sync, truncate, size, file control, lock, close), so
//! SQLite never observes the difference. Only the writer connection uses it, and only with
//! `synchronous=FULL`: then every commit syncs the WAL (flushing the buffer) before it
//! publishes the new frames in the wal-index, so no reader can look for a frame that is still
//! in the buffer. A write error surfaces from the sync, which fails the commit as a write
//! error would have.

#![allow(unsafe_code)]

use rusqlite::ffi;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::OnceLock;

/// The VFS's registered name.
pub(crate) const NAME: &CStr = c"medulla-wal";

/// Buffered bytes at most; a longer run of writes goes out at once.
const MAX_PENDING: usize = 8 << 20;

/// Bytes per write passed on: the unix VFS masks a write's length to 17 bits (it expects
/// page-sized writes), so longer ones go out in pieces of 120 KiB.
const CHUNK: usize = 120 << 10;

/// Registers the VFS once per process (not as the default); `Err` names SQLite's complaint.
pub(crate) fn register() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            // SAFETY: initialization is idempotent and thread-safe; a null name asks for the
            // default VFS, which lives as long as the process.
            let real = unsafe {
                ffi::sqlite3_initialize();
                ffi::sqlite3_vfs_find(std::ptr::null())
            };
            if real.is_null() {
                return Err("SQLite has no default VFS".into());
            }
            // SAFETY: `real` is SQLite's default VFS, valid for the life of the process.
            let base = unsafe { *real };
            let Some(real_open) = base.xOpen else {
                return Err("the default VFS cannot open files".into());
            };
            let size = c_int::try_from(std::mem::size_of::<WalFile>())
                .map_err(|_| "VFS file size overflows".to_string())?;
            // Everything but opening, naming and file size is the default VFS's own: its
            // methods see the same `pAppData` and `mxPathname` as under its own name.
            let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
                szOsFile: base.szOsFile + size,
                pNext: std::ptr::null_mut(),
                zName: NAME.as_ptr(),
                xOpen: Some(open),
                ..base
            }));
            REAL.get_or_init(|| RealVfs {
                vfs: real as usize,
                open: real_open,
            });
            // SAFETY: `vfs` is leaked, so it outlives every connection that uses it.
            let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
            if rc == ffi::SQLITE_OK {
                Ok(())
            } else {
                Err(format!("registering the VFS failed (code {rc})"))
            }
        })
        .clone()
}

/// The default VFS, as `open` needs it.
struct RealVfs {
    /// `*mut sqlite3_vfs` as an address (raw pointers are not `Sync`).
    vfs: usize,
    open: unsafe extern "C" fn(
        *mut ffi::sqlite3_vfs,
        *const c_char,
        *mut ffi::sqlite3_file,
        c_int,
        *mut c_int,
    ) -> c_int,
}

static REAL: OnceLock<RealVfs> = OnceLock::new();

/// A WAL file: SQLite's file header, then (in the same allocation, right after this struct)
/// the default VFS's file, which `real` points to.
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    pending: *mut Pending,
}

/// Writes not yet passed on: `bytes` belong at `offset` onwards.
struct Pending {
    offset: i64,
    bytes: Vec<u8>,
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let Some(real) = REAL.get() else {
        return ffi::SQLITE_ERROR;
    };
    let real_vfs = real.vfs as *mut ffi::sqlite3_vfs;
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        // SAFETY: `file` has room for the default VFS's file (ours is larger), which then
        // installs its own methods: SQLite talks to it directly.
        return unsafe { (real.open)(real_vfs, name, file, flags, out_flags) };
    }
    let wal = file.cast::<WalFile>();
    // SAFETY: SQLite allocated `szOsFile` bytes for `file`: a `WalFile` followed by the
    // default VFS's file, which starts right after it (the struct's size keeps the pointer
    // alignment of both).
    unsafe {
        let inner = file
            .cast::<u8>()
            .add(std::mem::size_of::<WalFile>())
            .cast::<ffi::sqlite3_file>();
        (*inner).pMethods = std::ptr::null();
        let rc = (real.open)(real_vfs, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            // SQLite closes a file whose methods are set even when opening failed: close the
            // inner one here and leave ours unset.
            if let Some(close) = (*inner)
                .pMethods
                .as_ref()
                .and_then(|methods| methods.xClose)
            {
                close(inner);
            }
            (*file).pMethods = std::ptr::null();
            return rc;
        }
        (*wal).real = inner;
        (*wal).pending = Box::into_raw(Box::new(Pending {
            offset: 0,
            bytes: Vec::new(),
        }));
        (*file).pMethods = &METHODS;
    }
    ffi::SQLITE_OK
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

/// The inner file and its methods.
///
/// # Safety
/// `file` must be a `WalFile` opened by [`open`] and not yet closed.
unsafe fn inner(
    file: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    // SAFETY: per the contract, `real` points at an open default-VFS file, whose methods
    // table is static in SQLite.
    unsafe {
        let real = (*file.cast::<WalFile>()).real;
        (real, &*(*real).pMethods)
    }
}

/// Writes out the pending bytes.
///
/// # Safety
/// As for [`inner`].
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: per the contract; `pending` is owned by this open file and SQLite calls a
    // file's methods from one thread at a time.
    unsafe {
        let pending = &mut *(*file.cast::<WalFile>()).pending;
        if pending.bytes.is_empty() {
            return ffi::SQLITE_OK;
        }
        let (real, methods) = inner(file);
        let Some(write) = methods.xWrite else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let mut offset = pending.offset;
        let mut rc = ffi::SQLITE_OK;
        for chunk in pending.bytes.chunks(CHUNK) {
            // A chunk is at most `CHUNK` bytes, far below `c_int::MAX`.
            let length = chunk.len() as c_int;
            rc = write(real, chunk.as_ptr().cast(), length, offset);
            if rc != ffi::SQLITE_OK {
                break;
            }
            offset += i64::from(length);
        }
        pending.bytes.clear();
        rc
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let Ok(length) = usize::try_from(amount) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    // SAFETY: SQLite passes an open file of ours and `amount` readable bytes at `data`.
    unsafe {
        let pending = &mut *(*file.cast::<WalFile>()).pending;
        let end = pending.offset + pending.bytes.len() as i64;
        let joins = !pending.bytes.is_empty() && offset == end;
        if !joins || pending.bytes.len() + length > MAX_PENDING {
            let rc = flush(file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            pending.offset = offset;
        }
        if pending.bytes.is_empty() {
            pending.offset = offset;
        }
        pending
            .bytes
            .extend_from_slice(std::slice::from_raw_parts(data.cast::<u8>(), length));
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes an open file of ours once; the pending box is freed exactly here.
    unsafe {
        let flushed = flush(file);
        let (real, methods) = inner(file);
        let closed = methods.xClose.map_or(ffi::SQLITE_OK, |close| close(real));
        let wal = file.cast::<WalFile>();
        drop(Box::from_raw((*wal).pending));
        (*wal).pending = std::ptr::null_mut();
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            closed
        }
    }
}

/// Defines a method that writes out the pending bytes, then calls the inner file's method of
/// the same name with the same arguments (`$missing` when it has none).
macro_rules! flushing {
    ($name:ident, $field:ident, $missing:expr, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            // SAFETY: SQLite passes an open file of ours and arguments for the inner method.
            unsafe {
                let rc = flush(file);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                let (real, methods) = inner(file);
                methods.$field.map_or($missing, |method| method(real $(, $arg)*))
            }
        }
    };
}

flushing!(read, xRead, ffi::SQLITE_IOERR_READ, (data: *mut c_void, amount: c_int, offset: i64));
flushing!(truncate, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, (size: i64));
flushing!(sync, xSync, ffi::SQLITE_IOERR_FSYNC, (flags: c_int));
flushing!(file_size, xFileSize, ffi::SQLITE_IOERR_FSTAT, (size: *mut i64));
flushing!(lock, xLock, ffi::SQLITE_IOERR_LOCK, (level: c_int));
flushing!(unlock, xUnlock, ffi::SQLITE_IOERR_UNLOCK, (level: c_int));
flushing!(check_reserved_lock, xCheckReservedLock, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, (out: *mut c_int));
flushing!(file_control, xFileControl, ffi::SQLITE_NOTFOUND, (op: c_int, arg: *mut c_void));
flushing!(shm_map, xShmMap, ffi::SQLITE_IOERR_SHMMAP, (page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void));
flushing!(shm_lock, xShmLock, ffi::SQLITE_IOERR_SHMLOCK, (offset: c_int, count: c_int, flags: c_int));
flushing!(shm_unmap, xShmUnmap, ffi::SQLITE_OK, (delete: c_int));
flushing!(fetch, xFetch, ffi::SQLITE_OK, (offset: i64, amount: c_int, out: *mut *mut c_void));

unsafe extern "C" fn unfetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    page: *mut c_void,
) -> c_int {
    // SAFETY: SQLite passes an open file of ours.
    unsafe {
        let (real, methods) = inner(file);
        methods
            .xUnfetch
            .map_or(ffi::SQLITE_OK, |method| method(real, offset, page))
    }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes an open file of ours.
    unsafe {
        let (real, methods) = inner(file);
        methods.xSectorSize.map_or(4096, |method| method(real))
    }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes an open file of ours.
    unsafe {
        let (real, methods) = inner(file);
        methods
            .xDeviceCharacteristics
            .map_or(0, |method| method(real))
    }
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: SQLite passes an open file of ours.
    unsafe {
        let _ = flush(file);
        let (real, methods) = inner(file);
        if let Some(method) = methods.xShmBarrier {
            method(real);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    fn writer(path: &std::path::Path) -> Connection {
        register().expect("registered");
        let conn =
            Connection::open_with_flags_and_vfs(path, OpenFlags::default(), NAME).expect("opened");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        conn.pragma_update(None, "synchronous", "FULL")
            .expect("full");
        conn
    }

    #[test]
    fn other_connections_see_every_commit_and_the_file_stays_intact() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("test.db");
        let conn = writer(&path);
        // A small page cache makes the big transaction spill pages into the log before its
        // commit, so the writer reads back frames it wrote itself.
        conn.pragma_update(None, "cache_size", 64).expect("cache");
        conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            .expect("table");
        let reader = Connection::open(&path).expect("reader");
        // Many small commits, each checked from the other connection at once.
        for n in 0..300_i64 {
            conn.execute("INSERT INTO t VALUES (?1, zeroblob(?2))", (n, 100 + n * 37))
                .expect("insert");
            let (count, bytes): (i64, i64) = reader
                .query_row("SELECT count(*), sum(length(body)) FROM t", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .expect("read");
            assert_eq!(count, n + 1);
            assert_eq!(bytes, (0..=n).map(|k| 100 + k * 37).sum::<i64>());
        }
        // One transaction of about 24 MB: longer than the buffer and than one passed-on write.
        let tx = conn.unchecked_transaction().expect("begin");
        for n in 1000..1400_i64 {
            tx.execute("INSERT INTO t VALUES (?1, randomblob(60000))", [n])
                .expect("insert");
        }
        tx.commit().expect("commit");
        let count: i64 = reader
            .query_row("SELECT count(*) FROM t WHERE n >= 1000", [], |row| {
                row.get(0)
            })
            .expect("read");
        assert_eq!(count, 400);
        // The log starts over after a full checkpoint, overwriting its start in place.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("checkpoint");
        conn.execute("DELETE FROM t WHERE n % 2 = 0", [])
            .expect("delete");
        drop(reader);
        drop(conn);
        let check = Connection::open(&path).expect("reopened");
        let result: String = check
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity check");
        assert_eq!(result, "ok");
        let count: i64 = check
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .expect("read");
        assert_eq!(count, 350);
    }
}
