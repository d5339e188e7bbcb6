// SPDX-License-Identifier: GPL-2.0
//! The records: one submodule per kind of state (the TREE; a task's
//! TASK, REGS, FPU, THREAD; an mm's MM, VMA, PAGES, SHM; FILES; the open
//! files' FILE, FDATA, FDS, MAPFILE; a task's CREDS, SIGNALS, PROCESS; a
//! live checkpoint's ROUND and PREVPAGES), the
//! [`Record`] enum of them all, and [`decode_record`], which decodes one
//! payload and checks what the record alone can tell.
//!
//! What the encoder and the validator need of a record beyond its public
//! API (its body encoder, the tree checks) is `pub(in super::super)`:
//! visible in the format module and nowhere else.

pub(super) mod fdt;
pub(super) mod files;
pub(super) mod live;
pub(super) mod mm;
pub mod regs;
pub(super) mod sig;
pub(super) mod task;
pub(super) mod tree;

#[cfg(doc)]
use super::super::Validator;
use super::consts::*;
use super::error::ErrorKind;
use super::header::{FileHeader, RecordHeader, Trailer};
use super::wire::to_u64;
use fdt::{Fds, FileData, MapFile, OpenFile};
use files::Files;
use live::{PrevPages, Round};
use mm::{Mm, Pages, Shm, Vma};
use regs::Regs;
use sig::{Creds, Process, Signals};
use task::{Fpu, Task, Thread};
use tree::Tree;

/// A decoded record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Record<'a> {
    /// TREE.
    Tree(Tree<'a>),
    /// TASK.
    Task(Task),
    /// REGS.
    Regs(Regs),
    /// FPU.
    Fpu(Fpu<'a>),
    /// MM.
    Mm(Mm<'a>),
    /// VMA.
    Vma(Vma<'a>),
    /// PAGES.
    Pages(Pages<'a>),
    /// TRAILER.
    Trailer(Trailer),
    /// FILES (version 1.1).
    Files(Files<'a>),
    /// SHM (version 1.2).
    Shm(Shm),
    /// THREAD.
    Thread(Thread),
    /// FILE (version 1.4).
    File(OpenFile<'a>),
    /// FDATA (version 1.4).
    FileData(FileData<'a>),
    /// FDS (version 1.4).
    Fds(Fds<'a>),
    /// MAPFILE (version 1.4).
    MapFile(MapFile),
    /// CREDS (version 1.5).
    Creds(Creds<'a>),
    /// SIGNALS (version 1.5).
    Signals(Signals<'a>),
    /// PROCESS (version 1.5).
    Process(Process<'a>),
    /// ROUND (version 1.6).
    Round(Round),
    /// PREVPAGES (version 1.6).
    PrevPages(PrevPages),
    /// A record of a type this version does not define, skipped.
    Unknown {
        /// Its type.
        kind: u32,
        /// Its flags (must-understand clear).
        flags: u32,
        /// Its payload (empty when it came through [`Validator`], which
        /// hands it to [`Validator::feed_data`]).
        payload: &'a [u8],
    },
}

impl Record<'_> {
    /// The record type.
    pub fn kind(&self) -> u32 {
        match self {
            Record::Tree(_) => RECORD_TREE,
            Record::Task(_) => RECORD_TASK,
            Record::Regs(_) => RECORD_REGS,
            Record::Fpu(_) => RECORD_FPU,
            Record::Mm(_) => RECORD_MM,
            Record::Vma(_) => RECORD_VMA,
            Record::Pages(_) => RECORD_PAGES,
            Record::Trailer(_) => RECORD_TRAILER,
            Record::Files(_) => RECORD_FILES,
            Record::Shm(_) => RECORD_SHM,
            Record::Thread(_) => RECORD_THREAD,
            Record::File(_) => RECORD_FILE,
            Record::FileData(_) => RECORD_FDATA,
            Record::Fds(_) => RECORD_FDS,
            Record::MapFile(_) => RECORD_MAPFILE,
            Record::Creds(_) => RECORD_CREDS,
            Record::Signals(_) => RECORD_SIGNALS,
            Record::Process(_) => RECORD_PROCESS,
            Record::Round(_) => RECORD_ROUND,
            Record::PrevPages(_) => RECORD_PREVPAGES,
            Record::Unknown { kind, .. } => *kind,
        }
    }
}

/// Decodes one payload and checks what the record alone can tell (not its
/// place in the image: see [`Validator`]). `payload` is the whole payload,
/// page data included; `hdr` comes from the record header, `file` from the
/// file header. Errors name no offset: the caller knows it.
pub fn decode_record<'a>(
    hdr: &RecordHeader,
    payload: &'a [u8],
    file: &FileHeader,
) -> Result<Record<'a>, ErrorKind> {
    if to_u64(payload.len()) != hdr.len {
        return Err(ErrorKind::BadPayloadLength {
            len: to_u64(payload.len()),
            expected: hdr.len,
        });
    }
    if !hdr.is_known() {
        if hdr.flags & RECORD_FLAG_MUST_UNDERSTAND != 0 {
            return Err(ErrorKind::UnknownMustUnderstand);
        }
        return Ok(Record::Unknown {
            kind: hdr.kind,
            flags: hdr.flags,
            payload,
        });
    }
    if hdr.flags != record_flags(hdr.kind) {
        return Err(ErrorKind::BadRecordFlags { flags: hdr.flags });
    }
    check_len(hdr, file)?;
    decode_known(hdr, payload, file)
}

/// Type-specific length rules checkable from the record header alone.
pub(super) fn check_len(hdr: &RecordHeader, file: &FileHeader) -> Result<(), ErrorKind> {
    let len = hdr.len;
    let (min, max) = match hdr.kind {
        RECORD_TREE => (TREE_FIXED_LEN, TREE_MAX_PAYLOAD),
        RECORD_TASK => (TASK_PAYLOAD_LEN, TASK_PAYLOAD_LEN),
        RECORD_REGS => (REGS_PAYLOAD_LEN, REGS_PAYLOAD_LEN),
        RECORD_FPU => {
            let n = Fpu::payload_len(file.xstate_size).unwrap_or(usize::MAX);
            (n, n)
        }
        RECORD_MM => (MM_FIXED_LEN, MM_MAX_PAYLOAD),
        RECORD_VMA => (VMA_FIXED_LEN, VMA_MAX_PAYLOAD),
        RECORD_PAGES => (PAGES_FIXED_LEN, usize::MAX),
        RECORD_FILES => (FILES_FIXED_LEN, FILES_MAX_PAYLOAD),
        RECORD_SHM => (SHM_PAYLOAD_LEN, SHM_PAYLOAD_LEN),
        RECORD_THREAD => (THREAD_PAYLOAD_LEN, THREAD_PAYLOAD_LEN),
        RECORD_FILE => (FILE_FIXED_LEN, FILE_MAX_PAYLOAD),
        RECORD_FDATA => (FDATA_FIXED_LEN, FDATA_MAX_PAYLOAD),
        RECORD_FDS => (FDS_FIXED_LEN, FDS_MAX_PAYLOAD),
        RECORD_MAPFILE => (MAPFILE_PAYLOAD_LEN, MAPFILE_PAYLOAD_LEN),
        RECORD_CREDS => (CREDS_FIXED_LEN, CREDS_MAX_PAYLOAD),
        RECORD_SIGNALS => (SIGNALS_FIXED_LEN, SIGNALS_MAX_PAYLOAD),
        RECORD_PROCESS => (PROCESS_FIXED_LEN, PROCESS_MAX_PAYLOAD),
        RECORD_ROUND => (ROUND_PAYLOAD_LEN, ROUND_PAYLOAD_LEN),
        RECORD_PREVPAGES => (PREVPAGES_PAYLOAD_LEN, PREVPAGES_PAYLOAD_LEN),
        _ => (TRAILER_PAYLOAD_LEN, TRAILER_PAYLOAD_LEN),
    };
    let (min, max) = (to_u64(min), to_u64(max));
    if len > max && min != max {
        return Err(ErrorKind::RecordTooLarge { len, max });
    }
    if len < min || (min == max && len != min) {
        return Err(ErrorKind::BadPayloadLength { len, expected: min });
    }
    Ok(())
}

pub(super) fn decode_known<'a>(
    hdr: &RecordHeader,
    p: &'a [u8],
    file: &FileHeader,
) -> Result<Record<'a>, ErrorKind> {
    Ok(match hdr.kind {
        RECORD_TREE => {
            let t = Tree::decode(p)?;
            t.check()?;
            Record::Tree(t)
        }
        RECORD_TASK => Record::Task(Task::decode(p)?),
        RECORD_REGS => Record::Regs(Regs::decode(p)?),
        RECORD_FPU => Record::Fpu(Fpu::decode(p, file)?),
        RECORD_MM => Record::Mm(Mm::decode(p, file)?),
        RECORD_VMA => Record::Vma(Vma::decode(p, file)?),
        RECORD_PAGES => {
            let fixed = p.get(..PAGES_FIXED_LEN).unwrap_or(&[]);
            let (addr, nr_pages) = Pages::decode_fixed(fixed, hdr.len, file)?;
            Record::Pages(Pages {
                addr,
                nr_pages,
                data: p.get(PAGES_FIXED_LEN..).unwrap_or(&[]),
            })
        }
        RECORD_FILES => Record::Files(Files::decode(p)?),
        RECORD_SHM => Record::Shm(Shm::decode(p)?),
        RECORD_THREAD => Record::Thread(Thread::decode(p)?),
        RECORD_FILE => Record::File(OpenFile::decode(p)?),
        RECORD_FDATA => {
            let fixed = p.get(..FDATA_FIXED_LEN).unwrap_or(&[]);
            let (file, offset) = FileData::decode_fixed(fixed)?;
            Record::FileData(FileData {
                file,
                offset,
                data: p.get(FDATA_FIXED_LEN..).unwrap_or(&[]),
            })
        }
        RECORD_FDS => Record::Fds(Fds::decode(p)?),
        RECORD_MAPFILE => Record::MapFile(MapFile::decode(p)?),
        RECORD_CREDS => Record::Creds(Creds::decode(p)?),
        RECORD_SIGNALS => Record::Signals(Signals::decode(p)?),
        RECORD_PROCESS => Record::Process(Process::decode(p)?),
        RECORD_ROUND => Record::Round(Round::decode(p)?),
        RECORD_PREVPAGES => Record::PrevPages(PrevPages::decode(p, file)?),
        _ => Record::Trailer(Trailer::decode(p)?),
    })
}
