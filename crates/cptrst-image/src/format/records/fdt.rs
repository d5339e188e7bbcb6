// SPDX-License-Identifier: GPL-2.0
//! The open-file records (version 1.4): [`OpenFile`] (FILE: one open file
//! object, its [`FileKind`]), [`FileData`] (FDATA: a chunk of its content),
//! [`Fds`] (FDS: a thread group's fd table, its [`FdEntry`]s, umask, root
//! and cwd) and [`MapFile`] (MAPFILE: what a file VMA's file must be).
//!
//! Each decoder checks what the record alone can tell; the rules between
//! records (ids in order, data completeness, placement, references to FILE
//! ids) are the [`Validator`]'s.

use super::super::consts::*;
use super::super::error::ErrorKind;
use super::super::wire::{all_zero, pad8, to_u64, Rd, Wr};
#[cfg(doc)]
use super::super::Validator;

/// What an open file object is (the `kind` of a FILE record).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A regular file, opened again by path.
    Reg = 1,
    /// A directory (`O_DIRECTORY` or `O_PATH`), opened again by path.
    Dir = 2,
    /// One of the memory character devices (`/dev/null`, `zero`, `full`,
    /// `random`, `urandom`).
    Chr = 3,
    /// An anonymous pipe end (the pipe's other ends inside the tree too).
    Pipe = 4,
    /// A FIFO, by path, with its buffered data.
    Fifo = 5,
    /// A memfd, with its content, name and seals.
    Memfd = 6,
    /// A regular file unlinked while open, with its content.
    Deleted = 7,
    /// Something outside the tree (a terminal, a pipe whose other end is
    /// outside, a socket at fd 0-2): only what it was is recorded.
    External = 8,
}

impl FileKind {
    /// From its number in the format.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::Reg,
            2 => Self::Dir,
            3 => Self::Chr,
            4 => Self::Pipe,
            5 => Self::Fifo,
            6 => Self::Memfd,
            7 => Self::Deleted,
            8 => Self::External,
            _ => return None,
        })
    }

    /// Its number in the format.
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// Its printable name: `reg`, `dir`, `chr`, `pipe`, `fifo`, `memfd`,
    /// `deleted`, `external`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Reg => "reg",
            Self::Dir => "dir",
            Self::Chr => "chr",
            Self::Pipe => "pipe",
            Self::Fifo => "fifo",
            Self::Memfd => "memfd",
            Self::Deleted => "deleted",
            Self::External => "external",
        }
    }

    /// A kind whose content the image carries in FDATA records
    /// (`data_len == size`).
    pub fn has_content(self) -> bool {
        matches!(self, Self::Memfd | Self::Deleted)
    }

    /// A kind that is a pipe object (`pipe`, `pipe_size`, buffered data).
    pub fn is_pipe(self) -> bool {
        matches!(self, Self::Pipe | Self::Fifo)
    }

    /// A kind whose `size` is the inode's size (else 0).
    pub fn has_size(self) -> bool {
        matches!(self, Self::Reg | Self::Memfd | Self::Deleted)
    }
}

/// The FILE record (version 1.4): one open file object (a `struct file`),
/// shared by every fd of the image that refers to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFile<'a> {
    /// Its id: 1 for the first FILE record, then 2, ...
    pub id: u32,
    /// What it is.
    pub kind: FileKind,
    /// `open(2)` flags (x86_64 values), within [`OPEN_FLAGS_KNOWN`].
    pub flags: u32,
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    /// File position (0 for pipes, FIFOs and external objects; at most
    /// `i64::MAX`).
    pub pos: u64,
    /// `i_size` for Reg, Memfd and Deleted; else 0.
    pub size: u64,
    /// Chr: [`CHR_MEM_MAJOR`]; else 0.
    pub rdev_major: u32,
    /// Chr: the memory device's minor ([`chr_mem_name`]); else 0.
    pub rdev_minor: u32,
    /// Pipe and Fifo: the pipe object's id (1.., in order of first
    /// appearance); else 0.
    pub pipe: u32,
    /// Pipe and Fifo: the capacity in bytes (a power of two,
    /// [`PAGE_SIZE_X86_64`]..=[`MAX_PIPE_SIZE`]); else 0.
    pub pipe_size: u32,
    /// Memfd: its `F_SEAL_*` bits (within [`SEALS_KNOWN`]); else 0.
    pub seals: u32,
    /// Bytes of content in the FDATA records after it: Memfd and Deleted:
    /// `size`; Pipe and Fifo: the buffered bytes, on the first FILE of the
    /// pipe id only; else 0.
    pub data_len: u64,
    /// Reg, Dir, Chr, Fifo, Deleted: the absolute path; Memfd: the name
    /// (after `memfd:`); Pipe: `pipe:[INODE]`; External: what it was.
    pub path: &'a [u8],
}

impl<'a> OpenFile<'a> {
    /// Payload length of a FILE record with a path of `path_len` bytes.
    pub fn payload_len(path_len: usize) -> Option<usize> {
        FILE_FIXED_LEN.checked_add(pad8(path_len)?)
    }

    pub(super) fn decode(p: &'a [u8]) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let short = BadPayloadLength {
            len: to_u64(p.len()),
            expected: FILE_FIXED_LEN as u64,
        };
        let mut r = Rd::new(p);
        let id = r.u32().ok_or(short)?;
        let kind = r.u32().ok_or(short)?;
        let flags = r.u32().ok_or(short)?;
        let mode = r.u32().ok_or(short)?;
        let pos = r.u64().ok_or(short)?;
        let size = r.u64().ok_or(short)?;
        let rdev_major = r.u32().ok_or(short)?;
        let rdev_minor = r.u32().ok_or(short)?;
        let pipe = r.u32().ok_or(short)?;
        let pipe_size = r.u32().ok_or(short)?;
        let seals = r.u32().ok_or(short)?;
        let path_len = r.u32().ok_or(short)?;
        let data_len = r.u64().ok_or(short)?;
        if id == 0 || id > MAX_FILES {
            return Err(BadFileId { id, expected: 1 });
        }
        let kind = FileKind::from_u32(kind).ok_or(BadFileKind { kind })?;
        if path_len == 0 {
            return Err(BadFilePath { id });
        }
        if path_len as usize > MAX_PATH_LEN {
            return Err(PathTooLong { len: path_len });
        }
        let expected = Self::payload_len(path_len as usize).ok_or(short)?;
        if p.len() != expected {
            return Err(BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        let path = r.bytes(path_len as usize).ok_or(short)?;
        if !all_zero(r.rest()) {
            return Err(NonZeroPadding);
        }
        let f = OpenFile {
            id,
            kind,
            flags,
            mode,
            pos,
            size,
            rdev_major,
            rdev_minor,
            pipe,
            pipe_size,
            seals,
            data_len,
            path,
        };
        f.check()?;
        Ok(f)
    }

    /// The rules of one FILE record alone, field by field.
    pub(in super::super) fn check(&self) -> Result<(), ErrorKind> {
        use ErrorKind::*;
        let id = self.id;
        let k = self.kind;
        let flags = self.flags;
        if flags & !OPEN_FLAGS_KNOWN != 0 || flags & OF_ACCMODE == OF_ACCMODE {
            return Err(BadOpenFlags { id, flags });
        }
        if (flags & OF_PATH != 0 && !matches!(k, FileKind::Reg | FileKind::Dir))
            || (flags & OF_DIRECTORY != 0 && k != FileKind::Dir)
        {
            return Err(OpenFlagsNotForKind { id, flags });
        }
        let ty = self.mode & MODE_IFMT;
        let ty_ok = match k {
            FileKind::Reg | FileKind::Memfd | FileKind::Deleted => ty == MODE_IFREG,
            FileKind::Dir => ty == MODE_IFDIR,
            FileKind::Chr => ty == MODE_IFCHR,
            FileKind::Pipe | FileKind::Fifo => ty == MODE_IFIFO,
            FileKind::External => matches!(ty, MODE_IFCHR | MODE_IFIFO | MODE_IFSOCK),
        };
        if !ty_ok || self.mode & !(MODE_IFMT | MODE_PERM) != 0 {
            return Err(BadFileMode {
                id,
                mode: self.mode,
            });
        }
        let pos_zero = matches!(k, FileKind::Pipe | FileKind::Fifo | FileKind::External);
        if self.pos > i64::MAX as u64 || (pos_zero && self.pos != 0) {
            return Err(BadFilePos { id, pos: self.pos });
        }
        if self.size > i64::MAX as u64
            || (!k.has_size() && self.size != 0)
            || (k.has_content() && self.size > MAX_FILE_DATA)
        {
            return Err(BadFileSize {
                id,
                size: self.size,
            });
        }
        let rdev_ok = if k == FileKind::Chr {
            self.rdev_major == CHR_MEM_MAJOR && chr_mem_name(self.rdev_minor).is_some()
        } else {
            self.rdev_major == 0 && self.rdev_minor == 0
        };
        if !rdev_ok {
            return Err(BadFileRdev {
                id,
                major: self.rdev_major,
                minor: self.rdev_minor,
            });
        }
        if k.is_pipe() != (self.pipe != 0) {
            return Err(BadPipeId {
                id,
                pipe: self.pipe,
            });
        }
        let ps = self.pipe_size;
        let ps_ok = if k.is_pipe() {
            ps.is_power_of_two() && (PAGE_SIZE_X86_64..=MAX_PIPE_SIZE).contains(&ps)
        } else {
            ps == 0
        };
        if !ps_ok {
            return Err(BadPipeSize { id, pipe_size: ps });
        }
        if (k != FileKind::Memfd && self.seals != 0) || self.seals & !SEALS_KNOWN != 0 {
            return Err(BadSeals {
                id,
                seals: self.seals,
            });
        }
        let dl = self.data_len;
        let dl_ok = match k {
            FileKind::Memfd | FileKind::Deleted => dl == self.size,
            FileKind::Pipe | FileKind::Fifo => dl <= u64::from(ps),
            _ => dl == 0,
        };
        if !dl_ok {
            return Err(BadFileDataLen { id, data_len: dl });
        }
        if !file_path_ok(k, self.path) {
            return Err(BadFilePath { id });
        }
        Ok(())
    }

    pub(in super::super) fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u32(self.id)?;
        w.u32(self.kind.as_u32())?;
        w.u32(self.flags)?;
        w.u32(self.mode)?;
        w.u64(self.pos)?;
        w.u64(self.size)?;
        w.u32(self.rdev_major)?;
        w.u32(self.rdev_minor)?;
        w.u32(self.pipe)?;
        w.u32(self.pipe_size)?;
        w.u32(self.seals)?;
        w.u32(u32::try_from(self.path.len()).ok()?)?;
        w.u64(self.data_len)?;
        w.put(self.path)?;
        w.pad()
    }
}

/// The path rules of a FILE per kind (the length is checked before).
fn file_path_ok(k: FileKind, p: &[u8]) -> bool {
    if p.is_empty() || p.contains(&0) {
        return false;
    }
    match k {
        FileKind::Reg | FileKind::Dir | FileKind::Chr | FileKind::Fifo | FileKind::Deleted => {
            p.first() == Some(&b'/')
        }
        FileKind::Memfd => p.len() <= MAX_MEMFD_NAME && !p.contains(&b'/'),
        FileKind::Pipe => p
            .strip_prefix(b"pipe:[")
            .and_then(|r| r.strip_suffix(b"]"))
            .is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit)),
        FileKind::External => true,
    }
}

/// The FDATA record (version 1.4): a chunk of the content of the FILE
/// record before it, at `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileData<'a> {
    /// The FILE id (the FILE record just before the FDATA run).
    pub file: u32,
    /// Offset of the chunk in the content: the bytes of the earlier chunks.
    pub offset: u64,
    /// The chunk's bytes. Empty when the record came through
    /// [`Validator::feed_payload`] (they come through
    /// [`Validator::feed_data`], padding included, and
    /// [`Validator::data_chunk_left`] says how many are data). From
    /// [`decode_record`](super::decode_record) alone: everything after the
    /// fixed part, padding included (only the validator knows where the
    /// data ends); from the `Reader`: exactly the data.
    pub data: &'a [u8],
}

impl FileData<'_> {
    /// Payload length of an FDATA record of `n` bytes of data.
    pub fn payload_len(n: usize) -> Option<usize> {
        FDATA_FIXED_LEN.checked_add(pad8(n)?)
    }

    /// Decodes the fixed part (`file`, `offset`).
    pub(in super::super) fn decode_fixed(p: &[u8]) -> Result<(u32, u64), ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(file), Some(reserved), Some(offset)) = (r.u32(), r.u32(), r.u64()) else {
            return Err(ErrorKind::TruncatedRecord { missing: 0 });
        };
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        if file == 0 {
            return Err(ErrorKind::FdataBadFile { file, expected: 1 });
        }
        // Every chunk but the last carries a multiple of 8 bytes.
        if offset.checked_rem(ALIGN as u64) != Some(0) {
            return Err(ErrorKind::FdataBadOffset {
                offset,
                expected: offset & !(ALIGN as u64 - 1),
            });
        }
        Ok((file, offset))
    }
}

/// One entry of an FDS record: an fd and the FILE it refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdEntry {
    /// The descriptor number, below [`FD_LIMIT`].
    pub fd: u32,
    /// The FILE id, 1..=the number of FILE records.
    pub file: u32,
    /// Fd flags: [`FD_FLAG_CLOEXEC`] or 0.
    pub flags: u32,
}

impl FdEntry {
    fn decode(b: &[u8]) -> Option<(Self, u32)> {
        let mut r = Rd::new(b);
        let e = Self {
            fd: r.u32()?,
            file: r.u32()?,
            flags: r.u32()?,
        };
        Some((e, r.u32()?))
    }
}

/// The FDS record (version 1.4): a live thread group's fd table, in
/// ascending fd order, and its fs context (umask, root, cwd). Borrows the
/// raw entries of the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fds<'a> {
    /// The umask (at most `0o777`).
    pub umask: u32,
    /// The root directory, an absolute path.
    pub root: &'a [u8],
    /// The working directory, an absolute path.
    pub cwd: &'a [u8],
    /// The entries, [`FD_ENTRY_LEN`] bytes each (checked by the decoder).
    pub(in super::super) raw: &'a [u8],
}

impl<'a> Fds<'a> {
    /// Number of entries.
    pub fn len(&self) -> u32 {
        u32::try_from(self.raw.len() / FD_ENTRY_LEN).unwrap_or(u32::MAX)
    }

    /// No fd at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i`.
    pub fn get(&self, i: u32) -> Option<FdEntry> {
        let start = (i as usize).checked_mul(FD_ENTRY_LEN)?;
        let end = start.checked_add(FD_ENTRY_LEN)?;
        FdEntry::decode(self.raw.get(start..end)?).map(|(e, _)| e)
    }

    /// The entries, in ascending fd order.
    pub fn iter(&self) -> impl Iterator<Item = FdEntry> + 'a {
        let raw = self.raw;
        raw.chunks_exact(FD_ENTRY_LEN)
            .filter_map(|c| FdEntry::decode(c).map(|(e, _)| e))
    }

    /// The entry of fd `fd`, if the table has it.
    pub fn find(&self, fd: u32) -> Option<FdEntry> {
        self.iter().find(|e| e.fd == fd)
    }

    /// Payload length of an FDS record of `count` entries, a root path of
    /// `root_len` bytes and a cwd of `cwd_len` bytes.
    pub fn payload_len(count: u32, root_len: usize, cwd_len: usize) -> Option<usize> {
        (count as usize)
            .checked_mul(FD_ENTRY_LEN)?
            .checked_add(FDS_FIXED_LEN)?
            .checked_add(pad8(root_len)?)?
            .checked_add(pad8(cwd_len)?)
    }

    pub(super) fn decode(p: &'a [u8]) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let short = BadPayloadLength {
            len: to_u64(p.len()),
            expected: FDS_FIXED_LEN as u64,
        };
        let mut r = Rd::new(p);
        let count = r.u32().ok_or(short)?;
        let umask = r.u32().ok_or(short)?;
        let root_len = r.u32().ok_or(short)?;
        let cwd_len = r.u32().ok_or(short)?;
        if count > MAX_FILES {
            return Err(FilesTooMany { count });
        }
        if umask > 0o777 {
            return Err(BadUmask { umask });
        }
        for len in [root_len, cwd_len] {
            if len as usize > MAX_PATH_LEN {
                return Err(PathTooLong { len });
            }
        }
        let expected =
            Self::payload_len(count, root_len as usize, cwd_len as usize).ok_or(short)?;
        if p.len() != expected {
            return Err(BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        let raw = r
            .bytes((count as usize).saturating_mul(FD_ENTRY_LEN))
            .ok_or(short)?;
        let root = padded_path(&mut r, root_len as usize).ok_or(short)??;
        let cwd = padded_path(&mut r, cwd_len as usize).ok_or(short)??;
        if !fs_path_ok(root) {
            return Err(BadRoot);
        }
        if !fs_path_ok(cwd) {
            return Err(BadCwd);
        }
        let mut prev: Option<u32> = None;
        for c in raw.chunks_exact(FD_ENTRY_LEN) {
            let (e, reserved) = FdEntry::decode(c).ok_or(short)?;
            if reserved != 0 {
                return Err(NonZeroReserved);
            }
            if e.fd >= FD_LIMIT {
                return Err(BadFd { fd: e.fd });
            }
            if prev.is_some_and(|p| e.fd <= p) {
                return Err(FilesUnsorted { fd: e.fd });
            }
            if e.file == 0 || e.file > MAX_FILES {
                return Err(FdsBadFile {
                    fd: e.fd,
                    file: e.file,
                });
            }
            if e.flags & !FD_FLAGS_KNOWN != 0 {
                return Err(BadFdFlags {
                    fd: e.fd,
                    flags: e.flags,
                });
            }
            prev = Some(e.fd);
        }
        Ok(Fds {
            umask,
            root,
            cwd,
            raw,
        })
    }

    pub(in super::super) fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        encode_fds(self.umask, self.root, self.cwd, self.len(), w, |w| {
            w.put(self.raw)
        })
    }
}

/// Writes an FDS payload; `entries` writes the `count` entries.
pub(in super::super) fn encode_fds(
    umask: u32,
    root: &[u8],
    cwd: &[u8],
    count: u32,
    w: &mut Wr<'_>,
    entries: impl FnOnce(&mut Wr<'_>) -> Option<()>,
) -> Option<()> {
    w.u32(count)?;
    w.u32(umask)?;
    w.u32(u32::try_from(root.len()).ok()?)?;
    w.u32(u32::try_from(cwd.len()).ok()?)?;
    entries(w)?;
    w.put(root)?;
    w.zeros(pad8(root.len())?.checked_sub(root.len())?)?;
    w.put(cwd)?;
    w.pad()
}

/// Writes one FDS entry.
pub(in super::super) fn encode_fd_entry(e: &FdEntry, w: &mut Wr<'_>) -> Option<()> {
    w.u32(e.fd)?;
    w.u32(e.file)?;
    w.u32(e.flags)?;
    w.u32(0)
}

/// `len` bytes then their zero padding to 8; `None` if too short.
fn padded_path<'a>(r: &mut Rd<'a>, len: usize) -> Option<Result<&'a [u8], ErrorKind>> {
    let f = r.bytes(len)?;
    let pad = r.bytes(pad8(len)?.checked_sub(len)?)?;
    Some(if all_zero(pad) {
        Ok(f)
    } else {
        Err(ErrorKind::NonZeroPadding)
    })
}

/// A root or cwd path: absolute, no NUL (the length is checked before).
fn fs_path_ok(p: &[u8]) -> bool {
    p.first() == Some(&b'/') && !p.contains(&0)
}

/// The MAPFILE record (version 1.4): right after a file VMA, what its
/// file must be at restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapFile {
    /// The file's size at checkpoint (`i_size`).
    pub size: u64,
    /// The file's `st_mode` at checkpoint (type [`MODE_IFREG`]).
    pub mode: u32,
    /// 0: the VMA's path is opened and must have this type and size; else
    /// the id of a FILE (of kind Memfd or Deleted) whose object is mapped
    /// instead of the path.
    pub file: u32,
}

impl MapFile {
    pub(super) fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(size), Some(mode), Some(file)) = (r.u64(), r.u32(), r.u32()) else {
            return Err(ErrorKind::BadPayloadLength {
                len: to_u64(p.len()),
                expected: MAPFILE_PAYLOAD_LEN as u64,
            });
        };
        let m = MapFile { size, mode, file };
        m.check()?;
        Ok(m)
    }

    pub(in super::super) fn check(&self) -> Result<(), ErrorKind> {
        if self.mode & MODE_IFMT != MODE_IFREG || self.mode & !(MODE_IFMT | MODE_PERM) != 0 {
            return Err(ErrorKind::MapFileBadMode { mode: self.mode });
        }
        if self.size > i64::MAX as u64 {
            return Err(ErrorKind::MapFileBadSize { size: self.size });
        }
        if self.file > MAX_FILES {
            return Err(ErrorKind::MapFileBadFile {
                file: self.file,
                files: MAX_FILES,
            });
        }
        Ok(())
    }

    pub(in super::super) fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u64(self.size)?;
        w.u32(self.mode)?;
        w.u32(self.file)
    }
}
