// SPDX-License-Identifier: GPL-2.0
//! An address space's records: [`Mm`] (layout, [`Auxv`], executable),
//! [`Vma`] (one mapping, its [`VmaKind`]), [`Pages`] (a run of its pages)
//! and [`Shm`] (the shmem object a shared anonymous VMA maps).

use super::super::consts::*;
use super::super::error::ErrorKind;
use super::super::header::FileHeader;
use super::super::wire::{pad8, path_ok, to_u64, var_field, Rd, Wr};
#[cfg(doc)]
use super::super::{Summary, Validator};

#[derive(Clone, Copy, Debug)]
enum AuxvRepr<'a> {
    Le(&'a [u8]),
    Words(&'a [u64]),
}

/// An auxiliary vector: (key, value) pairs, the last one `AT_NULL`.
#[derive(Clone, Copy, Debug)]
pub struct Auxv<'a> {
    repr: AuxvRepr<'a>,
}

impl<'a> Auxv<'a> {
    /// From flat words `key, value, key, value, ...` (the layout of
    /// `mm->saved_auxv`), cut after the first `AT_NULL` pair. `None` when
    /// there is no `AT_NULL` key in the first [`MAX_AUXV`] pairs.
    pub fn from_words(words: &'a [u64]) -> Option<Self> {
        let pairs = words.chunks_exact(2).take(MAX_AUXV);
        let n = pairs.clone().position(|p| p.first() == Some(&AT_NULL))?;
        let end = n.checked_add(1)?.checked_mul(2)?;
        Some(Self {
            repr: AuxvRepr::Words(words.get(..end)?),
        })
    }

    /// The auxv of an MM payload: `b` holds its pairs, which must end with
    /// their only `AT_NULL` one.
    fn decode(b: &'a [u8]) -> Result<Self, ErrorKind> {
        let auxv = Self {
            repr: AuxvRepr::Le(b),
        };
        let last = auxv.len().saturating_sub(1);
        for (i, (k, _)) in auxv.iter().enumerate() {
            if (k == AT_NULL) != (i == last) {
                return Err(ErrorKind::AuxvNotTerminated);
            }
        }
        Ok(auxv)
    }

    /// Number of pairs, `AT_NULL` included.
    pub fn len(&self) -> usize {
        match self.repr {
            AuxvRepr::Le(b) => b.len() / 16,
            AuxvRepr::Words(w) => w.len() / 2,
        }
    }

    /// No pair at all (never so in a valid image).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pair `i`.
    pub fn get(&self, i: usize) -> Option<(u64, u64)> {
        let k = i.checked_mul(2)?;
        match self.repr {
            AuxvRepr::Le(b) => {
                let mut r = Rd::new(b.get(k.checked_mul(8)?..)?);
                Some((r.u64()?, r.u64()?))
            }
            AuxvRepr::Words(w) => Some((*w.get(k)?, *w.get(k.checked_add(1)?)?)),
        }
    }

    /// The pairs, in order.
    pub fn iter(&self) -> AuxvIter<'a> {
        AuxvIter {
            auxv: *self,
            next: 0,
        }
    }
}

impl PartialEq for Auxv<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Iterator over the pairs of an [`Auxv`].
#[derive(Clone, Debug)]
pub struct AuxvIter<'a> {
    auxv: Auxv<'a>,
    next: usize,
}

impl Iterator for AuxvIter<'_> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        let p = self.auxv.get(self.next)?;
        self.next = self.next.checked_add(1)?;
        Some(p)
    }
}

/// The MM record: one address space. Its VMAs (and their pages) follow.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mm<'a> {
    /// The mm id (1 for the first MM record, then 2, ...).
    pub mm_id: u32,
    /// Number of VMA records of this mm.
    pub nr_vmas: u32,
    /// `mm->start_code`.
    pub start_code: u64,
    /// `mm->end_code`.
    pub end_code: u64,
    /// `mm->start_data`.
    pub start_data: u64,
    /// `mm->end_data`.
    pub end_data: u64,
    /// `mm->start_brk`.
    pub start_brk: u64,
    /// `mm->brk`.
    pub brk: u64,
    /// `mm->start_stack`.
    pub start_stack: u64,
    /// `mm->arg_start`.
    pub arg_start: u64,
    /// `mm->arg_end`.
    pub arg_end: u64,
    /// `mm->env_start`.
    pub env_start: u64,
    /// `mm->env_end`.
    pub env_end: u64,
    /// The saved auxiliary vector.
    pub auxv: Auxv<'a>,
    /// Path of the executable (`mm->exe_file`), empty for none.
    pub exe_path: &'a [u8],
}

impl<'a> Mm<'a> {
    /// The 11 layout fields, `start_code` to `env_end`, in declaration order.
    pub fn layout(&self) -> [u64; 11] {
        [
            self.start_code,
            self.end_code,
            self.start_data,
            self.end_data,
            self.start_brk,
            self.brk,
            self.start_stack,
            self.arg_start,
            self.arg_end,
            self.env_start,
            self.env_end,
        ]
    }

    /// Payload length for `auxv` pairs and a path of `path_len` bytes.
    pub fn payload_len(auxv: usize, path_len: usize) -> Option<usize> {
        MM_FIXED_LEN
            .checked_add(auxv.checked_mul(16)?)?
            .checked_add(pad8(path_len)?)
    }

    pub(super) fn decode(p: &'a [u8], h: &FileHeader) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let short = BadPayloadLength {
            len: to_u64(p.len()),
            expected: MM_FIXED_LEN as u64,
        };
        let mut r = Rd::new(p);
        let mm_id = r.u32().ok_or(short)?;
        let nr_vmas = r.u32().ok_or(short)?;
        let mut l = [0u64; 11];
        for v in l.iter_mut() {
            *v = r.u64().ok_or(short)?;
        }
        let auxv_count = r.u32().ok_or(short)?;
        let path_len = r.u32().ok_or(short)?;
        if nr_vmas > MAX_VMAS {
            return Err(TooManyVmas { count: nr_vmas });
        }
        check_layout(&l, h)?;
        if auxv_count == 0 || auxv_count as usize > MAX_AUXV {
            return Err(BadAuxvCount { count: auxv_count });
        }
        if path_len as usize > MAX_PATH_LEN {
            return Err(PathTooLong { len: path_len });
        }
        let expected = Self::payload_len(auxv_count as usize, path_len as usize).ok_or(short)?;
        if p.len() != expected {
            return Err(BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        let auxv = r
            .bytes((auxv_count as usize).saturating_mul(16))
            .ok_or(short)?;
        let auxv = Auxv::decode(auxv)?;
        let exe_path = var_field(&mut r, path_len as usize)?;
        if !path_ok(exe_path) {
            return Err(BadPath);
        }
        Ok(Self::from_layout(mm_id, nr_vmas, l, auxv, exe_path))
    }

    /// An MM of the 11 layout fields `l`, in [`layout`](Self::layout) order.
    fn from_layout(
        mm_id: u32,
        nr_vmas: u32,
        l: [u64; 11],
        auxv: Auxv<'a>,
        exe_path: &'a [u8],
    ) -> Self {
        let [start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start, arg_end, env_start, env_end] =
            l;
        Mm {
            mm_id,
            nr_vmas,
            start_code,
            end_code,
            start_data,
            end_data,
            start_brk,
            brk,
            start_stack,
            arg_start,
            arg_end,
            env_start,
            env_end,
            auxv,
            exe_path,
        }
    }

    pub(in super::super) fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u32(self.mm_id)?;
        w.u32(self.nr_vmas)?;
        for v in self.layout() {
            w.u64(v)?;
        }
        w.u32(u32::try_from(self.auxv.len()).ok()?)?;
        w.u32(u32::try_from(self.exe_path.len()).ok()?)?;
        for (k, v) in self.auxv.iter() {
            w.u64(k)?;
            w.u64(v)?;
        }
        w.put(self.exe_path)?;
        w.pad()
    }
}

/// Checks the 11 layout fields of an MM ([`Mm::layout`] order): all in
/// user space, each start/end pair in order.
fn check_layout(l: &[u64; 11], h: &FileHeader) -> Result<(), ErrorKind> {
    let [start_code, end_code, start_data, end_data, start_brk, brk, _start_stack, arg_start, arg_end, env_start, env_end] =
        *l;
    if l.iter().any(|&a| a > h.user_space_end()) {
        return Err(ErrorKind::MmInKernelSpace);
    }
    if start_code > end_code
        || start_data > end_data
        || start_brk > brk
        || arg_start > arg_end
        || env_start > env_end
    {
        return Err(ErrorKind::MmRangeInverted);
    }
    Ok(())
}

/// What a VMA maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaKind {
    /// Private anonymous memory.
    AnonPrivate,
    /// Private mapping of a file.
    FilePrivate,
    /// Shared mapping of a file.
    FileShared,
    /// Shared anonymous memory.
    SharedAnon,
    /// The vDSO.
    Vdso,
    /// The vDSO data pages (`[vvar]`).
    Vvar,
    /// The main thread's stack.
    Stack,
    /// The heap (`brk` area).
    Heap,
}

impl VmaKind {
    /// From its number in the format.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::AnonPrivate,
            2 => Self::FilePrivate,
            3 => Self::FileShared,
            4 => Self::SharedAnon,
            5 => Self::Vdso,
            6 => Self::Vvar,
            7 => Self::Stack,
            8 => Self::Heap,
            _ => return None,
        })
    }

    /// Its number in the format.
    pub fn as_u32(self) -> u32 {
        match self {
            Self::AnonPrivate => 1,
            Self::FilePrivate => 2,
            Self::FileShared => 3,
            Self::SharedAnon => 4,
            Self::Vdso => 5,
            Self::Vvar => 6,
            Self::Stack => 7,
            Self::Heap => 8,
        }
    }

    /// File kinds carry a path; the others none.
    pub fn has_path(self) -> bool {
        matches!(self, Self::FilePrivate | Self::FileShared)
    }
}

/// The VMA record: one mapping of the current mm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma<'a> {
    /// First address.
    pub start: u64,
    /// First address past the end.
    pub end: u64,
    /// Offset in the file (or shmem object), in pages (`vm_pgoff`).
    pub pgoff: u64,
    /// `PROT_*` bits.
    pub prot: u32,
    /// `VMA_*` flags.
    pub flags: u32,
    /// What it maps.
    pub kind: VmaKind,
    /// Path of the file, for the file kinds; empty otherwise.
    pub path: &'a [u8],
}

impl<'a> Vma<'a> {
    /// Payload length for a path of `path_len` bytes.
    pub fn payload_len(path_len: usize) -> Option<usize> {
        VMA_FIXED_LEN.checked_add(pad8(path_len)?)
    }

    pub(super) fn decode(p: &'a [u8], h: &FileHeader) -> Result<Self, ErrorKind> {
        use ErrorKind::*;
        let short = BadPayloadLength {
            len: to_u64(p.len()),
            expected: VMA_FIXED_LEN as u64,
        };
        let mut r = Rd::new(p);
        let start = r.u64().ok_or(short)?;
        let end = r.u64().ok_or(short)?;
        let pgoff = r.u64().ok_or(short)?;
        let prot = r.u32().ok_or(short)?;
        let flags = r.u32().ok_or(short)?;
        let kind = r.u32().ok_or(short)?;
        let path_len = r.u32().ok_or(short)?;
        let kind = VmaKind::from_u32(kind).ok_or(BadVmaKind { kind })?;
        let known = if h.minor >= VERSION_MINOR_SIG {
            VMA_FLAGS_KNOWN_SIG
        } else {
            VMA_FLAGS_KNOWN
        };
        if flags & !known != 0 || (flags & VMA_LOCKONFAULT != 0 && flags & VMA_LOCKED == 0) {
            return Err(BadVmaFlags { flags });
        }
        // VM_READ/WRITE/EXEC imply VM_MAYREAD/MAYWRITE/MAYEXEC.
        if prot & !PROT_KNOWN != 0 || prot & !(flags >> 5) != 0 {
            return Err(BadProt { prot });
        }
        check_vma_range(start, end, pgoff, h)?;
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
        let path = var_field(&mut r, path_len as usize)?;
        if path.is_empty() == kind.has_path() {
            return Err(VmaPathMismatch);
        }
        if !path_ok(path) {
            return Err(BadPath);
        }
        Ok(Vma {
            start,
            end,
            pgoff,
            prot,
            flags,
            kind,
            path,
        })
    }

    pub(in super::super) fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u64(self.start)?;
        w.u64(self.end)?;
        w.u64(self.pgoff)?;
        w.u32(self.prot)?;
        w.u32(self.flags)?;
        w.u32(self.kind.as_u32())?;
        w.u32(u32::try_from(self.path.len()).ok()?)?;
        w.put(self.path)?;
        w.pad()
    }
}

/// Checks a VMA's range: not empty, page-aligned, in user space, its page
/// offset plus its length not overflowing.
fn check_vma_range(start: u64, end: u64, pgoff: u64, h: &FileHeader) -> Result<(), ErrorKind> {
    if start >= end {
        return Err(ErrorKind::VmaEmpty);
    }
    let ps = u64::from(h.page_size);
    if start.checked_rem(ps) != Some(0) || end.checked_rem(ps) != Some(0) {
        return Err(ErrorKind::VmaUnaligned);
    }
    if end > h.user_space_end() {
        return Err(ErrorKind::VmaInKernelSpace);
    }
    let pages = end
        .saturating_sub(start)
        .checked_div(ps)
        .unwrap_or(u64::MAX);
    if pgoff.checked_add(pages).is_none() {
        return Err(ErrorKind::VmaBadPgoff);
    }
    Ok(())
}

/// The PAGES record: `nr_pages` pages at absolute address `addr`, inside
/// the VMA record before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pages<'a> {
    /// Address of the first page.
    pub addr: u64,
    /// Number of pages, 1..=[`MAX_PAGES_PER_RUN`].
    pub nr_pages: u64,
    /// The page contents, `nr_pages * page_size` bytes; empty when the
    /// record came through [`Validator::feed_payload`] (the data then comes
    /// through [`Validator::feed_data`]).
    pub data: &'a [u8],
}

impl Pages<'_> {
    /// Length of the page data of `nr_pages` pages.
    pub fn data_len(nr_pages: u64, page_size: u32) -> Option<u64> {
        nr_pages.checked_mul(u64::from(page_size))
    }

    /// First address past the run.
    pub fn end(&self, page_size: u32) -> Option<u64> {
        self.addr
            .checked_add(Self::data_len(self.nr_pages, page_size)?)
    }

    /// Decodes the fixed part; checks the count against `payload_len`.
    pub(in super::super) fn decode_fixed(
        p: &[u8],
        payload_len: u64,
        h: &FileHeader,
    ) -> Result<(u64, u64), ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(addr), Some(nr_pages)) = (r.u64(), r.u64()) else {
            return Err(ErrorKind::TruncatedRecord { missing: 0 });
        };
        if nr_pages == 0 {
            return Err(ErrorKind::PagesEmpty);
        }
        let data = Self::data_len(nr_pages, h.page_size)
            .ok_or(ErrorKind::LengthOverflow { len: nr_pages })?;
        let expected = data
            .checked_add(PAGES_FIXED_LEN as u64)
            .ok_or(ErrorKind::LengthOverflow { len: nr_pages })?;
        if expected != payload_len {
            return Err(ErrorKind::BadPayloadLength {
                len: payload_len,
                expected,
            });
        }
        if addr.checked_rem(u64::from(h.page_size)) != Some(0) {
            return Err(ErrorKind::PagesUnaligned);
        }
        Ok((addr, nr_pages))
    }
}

/// The SHM record (version 1.2): which shmem object the shared anonymous
/// VMA before it maps. Every VMA of the image mapping the same object has
/// the same id; ids are numbered 1, 2, ... in order of first appearance in
/// the image (the [`Validator`] checks it), so the largest id is the number
/// of objects ([`Summary::shm_objects`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shm {
    /// The object's id in this image, at least 1.
    pub id: u64,
}

impl Shm {
    pub(super) fn decode(p: &[u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let (Some(id), Some(reserved)) = (r.u64(), r.u64()) else {
            return Err(ErrorKind::BadPayloadLength {
                len: to_u64(p.len()),
                expected: SHM_PAYLOAD_LEN as u64,
            });
        };
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        if id == 0 {
            return Err(ErrorKind::BadShmId { id });
        }
        Ok(Self { id })
    }
}
