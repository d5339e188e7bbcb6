// SPDX-License-Identifier: GPL-2.0
//! The FILES record (version 1.1): a live task's open file descriptors
//! ([`Files`], its [`FileEntry`]s).

use super::super::consts::*;
use super::super::error::ErrorKind;
use super::super::wire::{to_u64, Rd};

/// One entry of a FILES record: an open file descriptor and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// The descriptor number, below [`FD_LIMIT`].
    pub fd: u32,
    /// What it refers to (`FILE_KIND_*`).
    pub kind: u32,
}

impl FileEntry {
    fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Rd::new(b);
        Some(Self {
            fd: r.u32()?,
            kind: r.u32()?,
        })
    }
}

/// The FILES record (version 1.1): the open file descriptors of a live
/// task, in ascending fd order. Borrows the raw entries of the payload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Files<'a> {
    /// The entries, [`FILE_ENTRY_LEN`] bytes each (a whole number of them,
    /// checked by the decoder).
    pub(in super::super) raw: &'a [u8],
}

impl<'a> Files<'a> {
    /// Number of entries.
    pub fn len(&self) -> u32 {
        u32::try_from(self.raw.len() / FILE_ENTRY_LEN).unwrap_or(u32::MAX)
    }

    /// No entry (a task without open files).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i`.
    pub fn get(&self, i: u32) -> Option<FileEntry> {
        let start = (i as usize).checked_mul(FILE_ENTRY_LEN)?;
        let end = start.checked_add(FILE_ENTRY_LEN)?;
        FileEntry::decode(self.raw.get(start..end)?)
    }

    /// The entries, in ascending fd order.
    pub fn iter(&self) -> FilesIter<'a> {
        FilesIter {
            files: *self,
            next: 0,
        }
    }

    /// Payload length of a FILES record of `count` entries.
    pub fn payload_len(count: u32) -> Option<usize> {
        (count as usize)
            .checked_mul(FILE_ENTRY_LEN)?
            .checked_add(FILES_FIXED_LEN)
    }

    pub(super) fn decode(p: &'a [u8]) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let short = BadPayloadLength {
            len: to_u64(p.len()),
            expected: FILES_FIXED_LEN as u64,
        };
        let mut r = Rd::new(p);
        let count = r.u32().ok_or(short)?;
        let reserved = r.u32().ok_or(short)?;
        if reserved != 0 {
            return Err(NonZeroReserved);
        }
        if count > MAX_FILES {
            return Err(FilesTooMany { count });
        }
        let expected = Self::payload_len(count).ok_or(FilesTooMany { count })?;
        if p.len() != expected {
            return Err(BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        let files = Files { raw: r.rest() };
        let mut prev: Option<u32> = None;
        for e in files.iter() {
            if e.fd >= FD_LIMIT {
                return Err(BadFd { fd: e.fd });
            }
            if prev.is_some_and(|p| e.fd <= p) {
                return Err(FilesUnsorted { fd: e.fd });
            }
            if !(FILE_KIND_REG..=FILE_KIND_OTHER).contains(&e.kind) {
                return Err(BadFileKind { kind: e.kind });
            }
            prev = Some(e.fd);
        }
        Ok(files)
    }
}

/// Iterator over the entries of a [`Files`] record.
#[derive(Clone, Debug)]
pub struct FilesIter<'a> {
    files: Files<'a>,
    next: u32,
}

impl Iterator for FilesIter<'_> {
    type Item = FileEntry;

    fn next(&mut self) -> Option<FileEntry> {
        let e = self.files.get(self.next)?;
        self.next = self.next.checked_add(1)?;
        Some(e)
    }
}
