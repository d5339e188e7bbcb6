// SPDX-License-Identifier: GPL-2.0
//! The [`Encoder`]: writes an image record by record into caller-supplied
//! buffers, keeping the offset, the record count and the CRC32C for the
//! trailer.

use super::checksum::{Crc32c, CrcImpl};
use super::consts::*;
use super::error::EncodeError;
use super::header::{FileHeader, Trailer};
use super::records::fdt::{encode_fd_entry, encode_fds, FdEntry, Fds, FileData, MapFile, OpenFile};
use super::records::files::{FileEntry, Files};
use super::records::live::{PrevPages, Round};
use super::records::mm::{Mm, Pages, Shm, Vma};
use super::records::regs::Regs;
use super::records::sig::{
    encode_creds, Creds, CredsHead, PosixTimer, Process, ProcessHead, Signals, SignalsHead,
};
use super::records::task::{Fpu, Task, Thread};
use super::records::tree::{Tree, TreeEntry};
use super::records::Record;
use super::wire::{pad8, to_u64, Wr};
#[cfg(doc)]
use super::Validator;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    /// Before the file header.
    Start,
    /// At a record boundary.
    None,
    /// A TREE record waits for this many entries.
    Tree(u32),
    /// A SIGNALS record waits for this many bytes of entries.
    Siginfo(u64),
    /// A PAGES (or FDATA) record waits for this many bytes of data.
    Data(u64),
    /// The trailer is written.
    Done,
}

/// Writes an image record by record, each into a caller-supplied buffer,
/// keeping the offset, the record count and the CRC32C for the trailer.
///
/// Every call writes one piece at the start of `buf` and returns its length;
/// on error nothing is written and the state is unchanged. The caller then
/// writes `buf[..n]` out. The encoder checks framing (lengths, limits,
/// sequence of pieces), not the image rules: run a [`Validator`] for that.
#[derive(Clone, Debug)]
pub struct Encoder {
    header: FileHeader,
    open: Open,
    offset: u64,
    records: u64,
    crc: Crc32c,
}

impl Encoder {
    /// An encoder for an image with this file header.
    pub fn new(header: FileHeader) -> Self {
        Self {
            header,
            open: Open::Start,
            offset: 0,
            records: 0,
            crc: Crc32c::new(),
        }
    }

    /// An encoder continuing a stream whose file header (`header`) and
    /// first records were written before, by another encoder (or another
    /// call of the module): `offset` bytes and `records` records so far,
    /// `crc_state` the raw CRC32C state over them (that encoder's
    /// [`crc_state`](Self::crc_state)). The next piece is a record (not the
    /// file header). Writing on with it gives the same bytes, and the same
    /// trailer, as the first encoder would have.
    pub fn resume(header: FileHeader, offset: u64, records: u64, crc_state: u32) -> Self {
        Self {
            header,
            open: Open::None,
            offset,
            records,
            crc: Crc32c::from_state(crc_state),
        }
    }

    /// The raw running CRC32C state over everything written so far (see
    /// [`CrcImpl`]; no final inversion): what [`resume`](Self::resume)
    /// takes to continue the stream.
    pub fn crc_state(&self) -> u32 {
        self.crc.state()
    }

    /// Bytes written so far (the offset of the next piece).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// CRC32C of everything written so far.
    pub fn crc32c(&self) -> u32 {
        self.crc.value()
    }

    /// The file header this encoder writes.
    pub fn file_header(&self) -> &FileHeader {
        &self.header
    }

    /// Computes the CRC32C with `imp` from now on (see [`CrcImpl`]).
    pub fn set_crc_impl(&mut self, imp: CrcImpl) {
        self.crc.set_impl(imp);
    }

    fn commit(&mut self, buf: &[u8], n: usize) -> usize {
        self.crc.update(buf.get(..n).unwrap_or(&[]));
        self.offset = self.offset.saturating_add(to_u64(n));
        n
    }

    /// Writes a record header then `body` (which writes `len` bytes).
    fn record(
        &mut self,
        kind: u32,
        flags: u32,
        len: usize,
        buf: &mut [u8],
        body: impl FnOnce(&mut Wr<'_>) -> Option<()>,
    ) -> Result<usize, EncodeError> {
        self.record_open(kind, flags, len, len, buf, body)
    }

    /// Like `record`, but only `written` bytes of the `len`-byte payload
    /// are written now.
    fn record_open(
        &mut self,
        kind: u32,
        flags: u32,
        len: usize,
        written: usize,
        buf: &mut [u8],
        body: impl FnOnce(&mut Wr<'_>) -> Option<()>,
    ) -> Result<usize, EncodeError> {
        if self.open != Open::None {
            return Err(EncodeError::Sequence);
        }
        if len.checked_rem(ALIGN) != Some(0) || to_u64(len) > MAX_RECORD_PAYLOAD {
            return Err(EncodeError::Limit);
        }
        let n = RECORD_HEADER_LEN
            .checked_add(written)
            .ok_or(EncodeError::Limit)?;
        if buf.len() < n {
            return Err(EncodeError::BufferTooSmall { needed: n });
        }
        let mut w = Wr::new(buf.get_mut(..n).unwrap_or(&mut []));
        let ok = (|| {
            w.u32(kind)?;
            w.u32(flags)?;
            w.u64(to_u64(len))?;
            body(&mut w)?;
            (w.pos == n).then_some(())
        })();
        ok.ok_or(EncodeError::Limit)?;
        self.records = self.records.saturating_add(1);
        Ok(self.commit(buf, n))
    }

    /// Writes the file header. First call.
    pub fn header(&mut self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if self.open != Open::Start {
            return Err(EncodeError::Sequence);
        }
        let n = self.header.encode(buf)?;
        self.open = Open::None;
        Ok(self.commit(buf, n))
    }

    /// Writes a whole TREE record.
    pub fn tree(&mut self, tree: &Tree<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if tree.len() > MAX_TASKS {
            return Err(EncodeError::Limit);
        }
        let len = Tree::payload_len(tree.len()).ok_or(EncodeError::Limit)?;
        self.record(RECORD_TREE, RECORD_FLAG_MUST_UNDERSTAND, len, buf, |w| {
            tree.encode_body(w)
        })
    }

    /// Starts a TREE record of `count` tasks: writes its header and fixed
    /// part; then call [`tree_entry`](Self::tree_entry) `count` times.
    pub fn tree_begin(&mut self, count: u32, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if count > MAX_TASKS {
            return Err(EncodeError::Limit);
        }
        let len = Tree::payload_len(count).ok_or(EncodeError::Limit)?;
        let n = self.record_open(
            RECORD_TREE,
            RECORD_FLAG_MUST_UNDERSTAND,
            len,
            TREE_FIXED_LEN,
            buf,
            |w| {
                w.u32(count)?;
                w.u32(0)
            },
        )?;
        if count > 0 {
            self.open = Open::Tree(count);
        }
        Ok(n)
    }

    /// Writes one entry of the TREE record started by
    /// [`tree_begin`](Self::tree_begin); returns [`TREE_ENTRY_LEN`].
    pub fn tree_entry(&mut self, e: &TreeEntry, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let Open::Tree(left) = self.open else {
            return Err(EncodeError::Sequence);
        };
        let dst = buf
            .get_mut(..TREE_ENTRY_LEN)
            .ok_or(EncodeError::BufferTooSmall {
                needed: TREE_ENTRY_LEN,
            })?;
        e.encode(&mut Wr::new(dst)).ok_or(EncodeError::Limit)?;
        self.open = match left.checked_sub(1) {
            Some(0) | None => Open::None,
            Some(l) => Open::Tree(l),
        };
        Ok(self.commit(buf, TREE_ENTRY_LEN))
    }

    /// Writes a TASK record.
    pub fn task(&mut self, t: &Task, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.record(
            RECORD_TASK,
            RECORD_FLAG_MUST_UNDERSTAND,
            TASK_PAYLOAD_LEN,
            buf,
            |w| t.encode_body(w),
        )
    }

    /// Writes a REGS record.
    pub fn regs(&mut self, r: &Regs, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.record(
            RECORD_REGS,
            RECORD_FLAG_MUST_UNDERSTAND,
            REGS_PAYLOAD_LEN,
            buf,
            |w| r.to_array().iter().try_for_each(|&v| w.u64(v)),
        )
    }

    /// Writes an FPU record; `xstate` must be `xstate_size` bytes long.
    pub fn fpu(&mut self, xstate: &[u8], buf: &mut [u8]) -> Result<usize, EncodeError> {
        if to_u64(xstate.len()) != u64::from(self.header.xstate_size) {
            return Err(EncodeError::XstateSize);
        }
        let len = Fpu::payload_len(self.header.xstate_size).ok_or(EncodeError::Limit)?;
        self.record(RECORD_FPU, RECORD_FLAG_MUST_UNDERSTAND, len, buf, |w| {
            w.u32(u32::try_from(xstate.len()).ok()?)?;
            w.u32(0)?;
            w.put(xstate)?;
            w.pad()
        })
    }

    /// Writes an MM record.
    pub fn mm(&mut self, mm: &Mm<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if mm.auxv.len() > MAX_AUXV || mm.exe_path.len() > MAX_PATH_LEN {
            return Err(EncodeError::Limit);
        }
        let len = Mm::payload_len(mm.auxv.len(), mm.exe_path.len()).ok_or(EncodeError::Limit)?;
        self.record(RECORD_MM, RECORD_FLAG_MUST_UNDERSTAND, len, buf, |w| {
            mm.encode_body(w)
        })
    }

    /// Writes a VMA record.
    pub fn vma(&mut self, v: &Vma<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if v.path.len() > MAX_PATH_LEN {
            return Err(EncodeError::Limit);
        }
        let len = Vma::payload_len(v.path.len()).ok_or(EncodeError::Limit)?;
        self.record(RECORD_VMA, RECORD_FLAG_MUST_UNDERSTAND, len, buf, |w| {
            v.encode_body(w)
        })
    }

    /// Writes a FILES record (version 1.1, skippable) of `entries`, which
    /// should be in ascending fd order with valid fds and kinds (the
    /// encoder checks the count only). Needs [`Files::payload_len`] plus
    /// [`RECORD_HEADER_LEN`] bytes of `buf`.
    pub fn files(&mut self, entries: &[FileEntry], buf: &mut [u8]) -> Result<usize, EncodeError> {
        let count = u32::try_from(entries.len()).map_err(|_| EncodeError::Limit)?;
        if count > MAX_FILES {
            return Err(EncodeError::Limit);
        }
        let len = Files::payload_len(count).ok_or(EncodeError::Limit)?;
        self.record(RECORD_FILES, record_flags(RECORD_FILES), len, buf, |w| {
            w.u32(count)?;
            w.u32(0)?;
            entries.iter().try_for_each(|e| {
                w.u32(e.fd)?;
                w.u32(e.kind)
            })
        })
    }

    /// Writes a decoded FILES record again.
    fn files_decoded(&mut self, f: &Files<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let count = f.len();
        if count > MAX_FILES {
            return Err(EncodeError::Limit);
        }
        let len = Files::payload_len(count).ok_or(EncodeError::Limit)?;
        self.record(RECORD_FILES, record_flags(RECORD_FILES), len, buf, |w| {
            w.u32(count)?;
            w.u32(0)?;
            w.put(f.raw)
        })
    }

    /// Writes an SHM record (version 1.2, skippable), right after the
    /// VMA record of a shared anonymous mapping. The id must be at least 1
    /// (else [`EncodeError::Limit`]); the caller numbers the objects in
    /// order of first appearance (the encoder does not check it).
    pub fn shm(&mut self, s: &Shm, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if s.id == 0 {
            return Err(EncodeError::Limit);
        }
        self.record(
            RECORD_SHM,
            record_flags(RECORD_SHM),
            SHM_PAYLOAD_LEN,
            buf,
            |w| {
                w.u64(s.id)?;
                w.u64(0)
            },
        )
    }

    /// Writes a THREAD record.
    pub fn thread(&mut self, t: &Thread, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.record(
            RECORD_THREAD,
            record_flags(RECORD_THREAD),
            THREAD_PAYLOAD_LEN,
            buf,
            |w| {
                w.u64(t.clear_child_tid)?;
                w.u64(t.robust_list)?;
                w.u64(t.robust_list_len)?;
                w.u64(t.rseq)?;
                w.u32(t.rseq_len)?;
                w.u32(t.rseq_sig)?;
                w.u64(0)
            },
        )
    }

    /// Writes a FILE record (version 1.4). The encoder checks the path
    /// length (1..=[`MAX_PATH_LEN`]) and the id (at least 1), not the other
    /// rules. Needs [`OpenFile::payload_len`] plus [`RECORD_HEADER_LEN`]
    /// bytes of `buf`.
    pub fn file(&mut self, f: &OpenFile<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        if f.path.is_empty() || f.path.len() > MAX_PATH_LEN || f.id == 0 {
            return Err(EncodeError::Limit);
        }
        let len = OpenFile::payload_len(f.path.len()).ok_or(EncodeError::Limit)?;
        self.record(RECORD_FILE, record_flags(RECORD_FILE), len, buf, |w| {
            f.encode_body(w)
        })
    }

    fn fdata_len(n: usize) -> Result<usize, EncodeError> {
        if n == 0 || n > FDATA_MAX_CHUNK {
            return Err(EncodeError::Limit);
        }
        FileData::payload_len(n).ok_or(EncodeError::Limit)
    }

    /// Starts an FDATA record (version 1.4) of `n` bytes of data (1..=
    /// [`FDATA_MAX_CHUNK`]) of FILE `file` at `offset`: writes its header
    /// and fixed part (32 bytes). The caller then writes the `n` bytes and
    /// the `pad8(n) - n` zero bytes of padding itself, reporting each piece
    /// with [`data`](Self::data) (the padding too).
    pub fn fdata_begin(
        &mut self,
        file: u32,
        offset: u64,
        n: usize,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let len = Self::fdata_len(n)?;
        let w = self.record_open(
            RECORD_FDATA,
            record_flags(RECORD_FDATA),
            len,
            FDATA_FIXED_LEN,
            buf,
            |w| {
                w.u32(file)?;
                w.u32(0)?;
                w.u64(offset)
            },
        )?;
        self.open = Open::Data(to_u64(len.saturating_sub(FDATA_FIXED_LEN)));
        Ok(w)
    }

    /// Writes a whole FDATA record (version 1.4): `d.data` (1..=
    /// [`FDATA_MAX_CHUNK`] bytes) zero-padded to 8.
    pub fn fdata(&mut self, d: &FileData<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let len = Self::fdata_len(d.data.len())?;
        self.record(RECORD_FDATA, record_flags(RECORD_FDATA), len, buf, |w| {
            w.u32(d.file)?;
            w.u32(0)?;
            w.u64(d.offset)?;
            w.put(d.data)?;
            w.pad()
        })
    }

    /// Writes an FDS record (version 1.4): the fd table `entries`
    /// (ascending fd order), `umask`, `root` and `cwd`. The encoder checks
    /// the count and the path lengths (1..=[`MAX_PATH_LEN`]), not the other
    /// rules. Needs [`Fds::payload_len`] plus [`RECORD_HEADER_LEN`] bytes
    /// of `buf`.
    pub fn fds(
        &mut self,
        umask: u32,
        root: &[u8],
        cwd: &[u8],
        entries: &[FdEntry],
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let count = u32::try_from(entries.len()).map_err(|_| EncodeError::Limit)?;
        let len = Self::fds_len(count, root, cwd)?;
        self.record(RECORD_FDS, record_flags(RECORD_FDS), len, buf, |w| {
            encode_fds(umask, root, cwd, count, w, |w| {
                entries.iter().try_for_each(|e| encode_fd_entry(e, w))
            })
        })
    }

    fn fds_len(count: u32, root: &[u8], cwd: &[u8]) -> Result<usize, EncodeError> {
        let path_bad = |p: &[u8]| p.is_empty() || p.len() > MAX_PATH_LEN;
        if count > MAX_FILES || path_bad(root) || path_bad(cwd) {
            return Err(EncodeError::Limit);
        }
        Fds::payload_len(count, root.len(), cwd.len()).ok_or(EncodeError::Limit)
    }

    /// Writes a decoded FDS record again.
    fn fds_decoded(&mut self, f: &Fds<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let len = Self::fds_len(f.len(), f.root, f.cwd)?;
        self.record(RECORD_FDS, record_flags(RECORD_FDS), len, buf, |w| {
            f.encode_body(w)
        })
    }

    /// Writes a MAPFILE record (version 1.4), right after the VMA record
    /// of a file mapping.
    pub fn map_file(&mut self, m: &MapFile, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.record(
            RECORD_MAPFILE,
            record_flags(RECORD_MAPFILE),
            MAPFILE_PAYLOAD_LEN,
            buf,
            |w| m.encode_body(w),
        )
    }

    /// Writes a CREDS record (version 1.5): `c` and the supplementary
    /// `groups`. The encoder checks the group count (at most
    /// [`MAX_GROUPS`]), not the other rules. Needs [`Creds::payload_len`]
    /// plus [`RECORD_HEADER_LEN`] bytes of `buf`.
    pub fn creds(
        &mut self,
        c: &CredsHead,
        groups: &[u32],
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let n = u32::try_from(groups.len()).map_err(|_| EncodeError::Limit)?;
        let len = Self::creds_len(n)?;
        self.record(RECORD_CREDS, record_flags(RECORD_CREDS), len, buf, |w| {
            encode_creds(c, n, w, |w| groups.iter().try_for_each(|&g| w.u32(g)))
        })
    }

    fn creds_len(ngroups: u32) -> Result<usize, EncodeError> {
        if ngroups > MAX_GROUPS {
            return Err(EncodeError::Limit);
        }
        Creds::payload_len(ngroups).ok_or(EncodeError::Limit)
    }

    /// Writes a decoded CREDS record again.
    fn creds_decoded(&mut self, c: &Creds<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let n = c.groups.len();
        let len = Self::creds_len(n)?;
        self.record(RECORD_CREDS, record_flags(RECORD_CREDS), len, buf, |w| {
            encode_creds(&c.head(), n, w, |w| w.put(c.groups.raw))
        })
    }

    fn signals_len(s: &SignalsHead) -> Result<(u32, usize), EncodeError> {
        let n = s.count().ok_or(EncodeError::Limit)?;
        if n > MAX_PENDING {
            return Err(EncodeError::Limit);
        }
        Ok((n, Signals::payload_len(n).ok_or(EncodeError::Limit)?))
    }

    /// Writes a whole SIGNALS record (version 1.5): `s` and its
    /// `s.nprivate + s.nshared` `entries` (user `siginfo_t`s, the private
    /// queue's first; else [`EncodeError::Limit`]). Needs
    /// [`Signals::payload_len`] plus [`RECORD_HEADER_LEN`] bytes of `buf`
    /// (up to 1 MiB: [`signals_begin`](Self::signals_begin) streams it).
    pub fn signals(
        &mut self,
        s: &SignalsHead,
        entries: &[[u8; SIGINFO_LEN]],
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let (n, len) = Self::signals_len(s)?;
        if to_u64(entries.len()) != u64::from(n) {
            return Err(EncodeError::Limit);
        }
        self.record(
            RECORD_SIGNALS,
            record_flags(RECORD_SIGNALS),
            len,
            buf,
            |w| {
                s.encode(w)?;
                entries.iter().try_for_each(|e| w.put(e))
            },
        )
    }

    /// Starts a SIGNALS record (version 1.5): writes its header and fixed
    /// part (64 bytes); then write its `s.nprivate + s.nshared` entries
    /// (the private queue's first), each with [`siginfo`](Self::siginfo)
    /// or written by the caller itself and reported with
    /// [`data`](Self::data) or [`data_with_crc`](Self::data_with_crc) (in
    /// pieces of any size, [`SIGINFO_LEN`] bytes per entry).
    pub fn signals_begin(&mut self, s: &SignalsHead, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let (n, len) = Self::signals_len(s)?;
        let w = self.record_open(
            RECORD_SIGNALS,
            record_flags(RECORD_SIGNALS),
            len,
            SIGNALS_FIXED_LEN,
            buf,
            |w| s.encode(w),
        )?;
        if n > 0 {
            self.open = Open::Siginfo(to_u64(len.saturating_sub(SIGNALS_FIXED_LEN)));
        }
        Ok(w)
    }

    /// Writes one entry (a user `siginfo_t`) of the SIGNALS record started
    /// by [`signals_begin`](Self::signals_begin); returns [`SIGINFO_LEN`].
    pub fn siginfo(
        &mut self,
        entry: &[u8; SIGINFO_LEN],
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let Open::Siginfo(left) = self.open else {
            return Err(EncodeError::Sequence);
        };
        let left = left
            .checked_sub(SIGINFO_LEN as u64)
            .ok_or(EncodeError::Overrun)?;
        let dst = buf
            .get_mut(..SIGINFO_LEN)
            .ok_or(EncodeError::BufferTooSmall {
                needed: SIGINFO_LEN,
            })?;
        dst.copy_from_slice(entry);
        self.open = if left == 0 {
            Open::None
        } else {
            Open::Siginfo(left)
        };
        Ok(self.commit(buf, SIGINFO_LEN))
    }

    /// Writes a decoded SIGNALS record again.
    fn signals_decoded(&mut self, s: &Signals<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let (n, len) = Self::signals_len(&s.head())?;
        if s.len() != n {
            return Err(EncodeError::Limit);
        }
        self.record(
            RECORD_SIGNALS,
            record_flags(RECORD_SIGNALS),
            len,
            buf,
            |w| {
                s.head().encode(w)?;
                w.put(s.raw)
            },
        )
    }

    fn process_len(ntimers: usize) -> Result<(u32, usize), EncodeError> {
        let n = u32::try_from(ntimers).map_err(|_| EncodeError::Limit)?;
        if n > MAX_TIMERS {
            return Err(EncodeError::Limit);
        }
        Ok((n, Process::payload_len(n).ok_or(EncodeError::Limit)?))
    }

    /// Writes a PROCESS record (version 1.5): `p` and its POSIX `timers`
    /// (ascending ids). The encoder checks the timer count (at most
    /// [`MAX_TIMERS`]), not the other rules. Needs
    /// [`Process::payload_len`] plus [`RECORD_HEADER_LEN`] bytes of `buf`.
    pub fn process(
        &mut self,
        p: &ProcessHead,
        timers: &[PosixTimer],
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let (n, len) = Self::process_len(timers.len())?;
        self.record(
            RECORD_PROCESS,
            record_flags(RECORD_PROCESS),
            len,
            buf,
            |w| {
                p.encode(n, w)?;
                timers.iter().try_for_each(|t| t.encode(w))
            },
        )
    }

    /// Writes a decoded PROCESS record again.
    fn process_decoded(&mut self, p: &Process<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let (_, len) = Self::process_len(p.timers.len() as usize)?;
        self.record(
            RECORD_PROCESS,
            record_flags(RECORD_PROCESS),
            len,
            buf,
            |w| p.encode_body(w),
        )
    }

    /// Writes a ROUND record (version 1.6): starts a round section, whose
    /// pages follow as PAGES records ([`pages`](Self::pages) or
    /// [`pages_begin`](Self::pages_begin) and [`data`](Self::data)). A
    /// round of 0, or a src or pid out of range: [`EncodeError::Limit`].
    pub fn round(&mut self, r: &Round, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.record(
            RECORD_ROUND,
            record_flags(RECORD_ROUND),
            ROUND_PAYLOAD_LEN,
            buf,
            |w| r.encode_body(w),
        )
    }

    /// Writes a PREVPAGES record (version 1.6), among the PAGES of the
    /// current VMA. A count out of 1..=[`MAX_PAGES_PER_RUN`], an unaligned
    /// address, a run above user space or a src out of range:
    /// [`EncodeError::Limit`].
    pub fn prev_pages(&mut self, p: &PrevPages, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let h = self.header;
        self.record(
            RECORD_PREVPAGES,
            record_flags(RECORD_PREVPAGES),
            PREVPAGES_PAYLOAD_LEN,
            buf,
            |w| p.encode_body(&h, w),
        )
    }

    fn pages_len(&self, nr_pages: u64) -> Result<usize, EncodeError> {
        if nr_pages == 0 || nr_pages > MAX_PAGES_PER_RUN {
            return Err(EncodeError::Limit);
        }
        let data = Pages::data_len(nr_pages, self.header.page_size).ok_or(EncodeError::Limit)?;
        usize::try_from(data)
            .ok()
            .and_then(|d| d.checked_add(PAGES_FIXED_LEN))
            .ok_or(EncodeError::Limit)
    }

    /// Writes a whole PAGES record (`p.data` holds the pages).
    pub fn pages(&mut self, p: &Pages<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let len = self.pages_len(p.nr_pages)?;
        if Some(p.data.len()) != len.checked_sub(PAGES_FIXED_LEN) {
            return Err(EncodeError::Limit);
        }
        self.record(RECORD_PAGES, RECORD_FLAG_MUST_UNDERSTAND, len, buf, |w| {
            w.u64(p.addr)?;
            w.u64(p.nr_pages)?;
            w.put(p.data)
        })
    }

    /// Starts a PAGES record of `nr_pages` pages at `addr`: writes its
    /// header and fixed part (32 bytes). The caller then writes the page
    /// data itself and reports every piece with [`data`](Self::data).
    pub fn pages_begin(
        &mut self,
        addr: u64,
        nr_pages: u64,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let len = self.pages_len(nr_pages)?;
        let n = self.record_open(
            RECORD_PAGES,
            RECORD_FLAG_MUST_UNDERSTAND,
            len,
            PAGES_FIXED_LEN,
            buf,
            |w| {
                w.u64(addr)?;
                w.u64(nr_pages)
            },
        )?;
        self.open = Open::Data(to_u64(len.saturating_sub(PAGES_FIXED_LEN)));
        Ok(n)
    }

    /// Accounts for data of the open PAGES, FDATA or SIGNALS record that
    /// the caller writes out itself (adds it to the CRC and the offset).
    pub fn data(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let imp = self.crc.imp;
        self.data_with_crc(bytes.len(), |st| imp(st, bytes))
    }

    /// Like [`data`](Self::data), for `len` bytes of page data that the
    /// caller checksums itself (they need not be in one buffer): `crc` maps
    /// the raw CRC32C state over them (see [`CrcImpl`]). It is called only
    /// if the bytes fit the open record.
    pub fn data_with_crc(
        &mut self,
        len: usize,
        crc: impl FnOnce(u32) -> u32,
    ) -> Result<(), EncodeError> {
        let (left, open): (u64, fn(u64) -> Open) = match self.open {
            Open::Data(l) => (l, Open::Data),
            Open::Siginfo(l) => (l, Open::Siginfo),
            _ => return Err(EncodeError::Sequence),
        };
        let left = left.checked_sub(to_u64(len)).ok_or(EncodeError::Overrun)?;
        self.crc.update_with(crc);
        self.offset = self.offset.saturating_add(to_u64(len));
        self.open = if left == 0 { Open::None } else { open(left) };
        Ok(())
    }

    /// Writes a record of any type with `flags` and `payload`, zero-padded
    /// to [`ALIGN`] (for records a later minor version adds, and for tests).
    pub fn raw(
        &mut self,
        kind: u32,
        flags: u32,
        payload: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let len = pad8(payload.len()).ok_or(EncodeError::Limit)?;
        self.record(kind, flags, len, buf, |w| {
            w.put(payload)?;
            w.pad()
        })
    }

    /// Writes any decoded record (the trailer with its own fields: use
    /// [`trailer`](Self::trailer) for a correct one).
    pub fn record_any(&mut self, r: &Record<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        match r {
            Record::Tree(t) => self.tree(t, buf),
            Record::Task(t) => self.task(t, buf),
            Record::Regs(r) => self.regs(r, buf),
            Record::Fpu(f) => self.fpu(f.xstate, buf),
            Record::Mm(m) => self.mm(m, buf),
            Record::Vma(v) => self.vma(v, buf),
            Record::Pages(p) => self.pages(p, buf),
            Record::Trailer(t) => self.trailer_with(t, buf),
            Record::Files(f) => self.files_decoded(f, buf),
            Record::Shm(s) => self.shm(s, buf),
            Record::Thread(t) => self.thread(t, buf),
            Record::File(f) => self.file(f, buf),
            Record::FileData(d) => self.fdata(d, buf),
            Record::Fds(f) => self.fds_decoded(f, buf),
            Record::MapFile(m) => self.map_file(m, buf),
            Record::Creds(c) => self.creds_decoded(c, buf),
            Record::Signals(s) => self.signals_decoded(s, buf),
            Record::Process(p) => self.process_decoded(p, buf),
            Record::Round(r) => self.round(r, buf),
            Record::PrevPages(p) => self.prev_pages(p, buf),
            Record::Unknown {
                kind,
                flags,
                payload,
            } => self.raw(*kind, *flags, payload, buf),
        }
    }

    /// Writes the trailer: record count, total size, CRC32C. Last call.
    pub fn trailer(&mut self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let t = Trailer {
            records: self.records,
            total_bytes: self
                .offset
                .checked_add(TRAILER_RECORD_LEN as u64)
                .ok_or(EncodeError::Limit)?,
            crc32c: self.crc.value(),
        };
        self.trailer_with(&t, buf)
    }

    fn trailer_with(&mut self, t: &Trailer, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let n = self.record(
            RECORD_TRAILER,
            RECORD_FLAG_MUST_UNDERSTAND,
            TRAILER_PAYLOAD_LEN,
            buf,
            |w| {
                w.u64(t.records)?;
                w.u64(t.total_bytes)?;
                w.u32(t.crc32c)?;
                w.u32(0)
            },
        )?;
        self.open = Open::Done;
        Ok(n)
    }
}
