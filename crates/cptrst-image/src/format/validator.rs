// SPDX-License-Identifier: GPL-2.0
//! The streaming [`Validator`]: every rule of the format, fed piece by
//! piece with a small fixed-size state; what it asks for next
//! ([`Expect`]) and what a valid image holds ([`Summary`]).

use super::checksum::{Crc32c, CrcImpl};
use super::consts::*;
use super::error::{Error, ErrorKind};
use super::header::{FileHeader, RecordHeader, Trailer};
use super::records::fdt::{Fds, FileData, MapFile, OpenFile};
use super::records::live::{PrevPages, Round};
use super::records::mm::{Mm, Pages, Shm, Vma, VmaKind};
use super::records::sig::{Process, Signals};
use super::records::task::Task;
use super::records::tree::Tree;
use super::records::{check_len, decode_known, Record};
#[cfg(doc)]
use super::validate;
use super::wire::{pad8, to_u64};

/// What a [`Validator`] takes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The file header, [`HEADER_LEN`] bytes: [`Validator::feed_header`].
    Header,
    /// A record header, [`RECORD_HEADER_LEN`] bytes, or the end of the
    /// input: [`Validator::feed_record_header`] or [`Validator::end_of_input`].
    RecordHeader,
    /// The TREE payload, this many bytes at once: [`Validator::feed_tree`].
    Tree(u64),
    /// A payload (for PAGES: its fixed part), this many bytes at once:
    /// [`Validator::feed_payload`].
    Payload(u64),
    /// Page data, FDATA data (with its padding: see
    /// [`Validator::data_chunk_left`]) or a skipped record's payload, this
    /// many bytes in pieces of any size: [`Validator::feed_data`].
    Data(u64),
    /// The trailer was valid: the image ends here.
    End,
    /// The image was refused (every call returns the error again).
    Failed(Error),
}

/// What a valid image holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The file header.
    pub header: FileHeader,
    /// Records before the trailer.
    pub records: u64,
    /// Size of the image.
    pub total_bytes: u64,
    /// CRC32C of the image before the trailer.
    pub crc32c: u32,
    /// Tasks in the tree.
    pub tasks: u32,
    /// Address spaces (MM records).
    pub mms: u32,
    /// VMA records.
    pub vmas: u64,
    /// PAGES records of the VMAs (not those of a live image's round
    /// sections: [`round_runs`](Self::round_runs)).
    pub page_runs: u64,
    /// Pages in the PAGES records of the VMAs.
    pub pages: u64,
    /// Distinct shmem objects named by SHM records (the largest id; 0 in
    /// an image without SHM).
    pub shm_objects: u64,
    /// FILE records (open file objects; 0 in an image before 1.4).
    pub files: u32,
    /// The highest round of the ROUND records (0 in an image that is not
    /// live).
    pub rounds: u32,
    /// ROUND records (round sections).
    pub round_sections: u32,
    /// PAGES records of the round sections (not in [`page_runs`](Self::page_runs)).
    pub round_runs: u64,
    /// Pages in the PAGES records of the round sections (copied while the
    /// tree ran; not in [`pages`](Self::pages)).
    pub round_pages: u64,
    /// PREVPAGES records.
    pub prev_runs: u64,
    /// Pages in the PREVPAGES records (their content is in the round
    /// sections).
    pub prev_pages: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Header,
    RecordHeader,
    Tree,
    Payload,
    Data,
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskStage {
    /// No task record pending.
    None,
    /// A live task's TASK was read: its REGS comes next.
    NeedRegs,
    /// Its REGS was read: its FPU comes next.
    NeedFpu,
    /// Its FPU was read: its FILES or THREAD may come next (optional).
    MayFiles,
    /// Its FILES was read: its THREAD may come next (optional before
    /// 1.5).
    MayThread,
    /// Its THREAD was read (1.5): its CREDS comes next.
    NeedCreds,
    /// Its CREDS was read: its SIGNALS comes next.
    NeedSignals,
    /// A thread group leader's SIGNALS was read: its PROCESS comes next.
    NeedProcess,
}

/// Incremental validator: the same checks as [`validate`], fed one piece at
/// a time, with a small fixed-size state (no allocation). Only the TREE
/// payload must stay alive while validating (`'t`): later records refer to
/// it.
///
/// Loop on [`expect`](Self::expect) and feed what it asks for. Until
/// [`Expect::End`] nothing read may be acted upon: a valid prefix is not a
/// valid image.
#[derive(Clone, Debug)]
pub struct Validator<'t> {
    step: Step,
    failed: Option<Error>,
    header: Option<FileHeader>,
    tree: Option<Tree<'t>>,
    /// Bytes consumed.
    offset: u64,
    crc: Crc32c,
    /// Records whose header was consumed (the trailer excluded).
    records: u64,
    /// The current record and its offset.
    cur: RecordHeader,
    cur_offset: u64,
    /// Bytes left for the current step (Payload: exact; Data: remaining).
    left: u64,
    /// Record count and CRC before the trailer.
    trailer_expect: (u64, u32),
    ntasks: u32,
    nmms: u32,
    next_task: u32,
    stage: TaskStage,
    mms_done: u32,
    vmas_left: u32,
    cur_vma: Option<(u64, u64)>,
    prev_vma: Option<(u64, u64)>,
    pages_floor: u64,
    vmas: u64,
    page_runs: u64,
    pages: u64,
    /// The last VMA was shared anonymous and no known record followed it
    /// yet: an SHM record may come.
    may_shm: bool,
    /// The largest SHM id so far (ids come in order of first appearance).
    shm_max: u64,
    /// FILE records so far (the id of the last one).
    nfiles: u32,
    /// The last FILE's data length and the bytes of it FDATA records
    /// carried so far.
    file_data: (u64, u64),
    /// The largest pipe id so far (ids come in order of first appearance).
    pipe_max: u32,
    /// The current task (in the FILES slot) is a thread.
    cur_thread: bool,
    /// The last VMA maps a file and no known record followed it yet: a
    /// MAPFILE record may come.
    may_mapfile: bool,
    /// Bytes of padding at the end of the current FDATA record's data.
    pad_left: u64,
    /// The last known record was a thread's SIGNALS (a PROCESS now is
    /// refused as [`ErrorKind::ProcessInThread`]).
    thread_signals: bool,
    /// The current round section's ROUND (until the TREE).
    round: Option<Round>,
    /// The end of the current round section's last PAGES run.
    round_floor: u64,
    /// The srcs that have a ROUND section so far, bit `src - 1`.
    round_srcs: [u64; (MAX_LIVE_SRCS as usize).div_ceil(64)],
    /// The kind of the current VMA (its number; 0 before the first).
    cur_vma_kind: u32,
    /// The src of the current MM group's PREVPAGES records (0: none yet).
    mm_src: u32,
    /// The highest round; ROUND records; their PAGES runs and pages.
    rounds: u32,
    round_sections: u32,
    round_runs: u64,
    round_pages: u64,
    /// PREVPAGES records and their pages.
    prev_runs: u64,
    prev_pages: u64,
}

impl Default for Validator<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'t> Validator<'t> {
    /// A validator at the start of an image.
    pub const fn new() -> Self {
        Self {
            step: Step::Header,
            failed: None,
            header: None,
            tree: None,
            offset: 0,
            crc: Crc32c::new(),
            records: 0,
            cur: RecordHeader {
                kind: 0,
                flags: 0,
                len: 0,
            },
            cur_offset: 0,
            left: 0,
            trailer_expect: (0, 0),
            ntasks: 0,
            nmms: 0,
            next_task: 0,
            stage: TaskStage::None,
            mms_done: 0,
            vmas_left: 0,
            cur_vma: None,
            prev_vma: None,
            pages_floor: 0,
            vmas: 0,
            page_runs: 0,
            pages: 0,
            may_shm: false,
            shm_max: 0,
            nfiles: 0,
            file_data: (0, 0),
            pipe_max: 0,
            cur_thread: false,
            may_mapfile: false,
            pad_left: 0,
            thread_signals: false,
            round: None,
            round_floor: 0,
            round_srcs: [0; (MAX_LIVE_SRCS as usize).div_ceil(64)],
            cur_vma_kind: 0,
            mm_src: 0,
            rounds: 0,
            round_sections: 0,
            round_runs: 0,
            round_pages: 0,
            prev_runs: 0,
            prev_pages: 0,
        }
    }

    /// What to feed next.
    pub fn expect(&self) -> Expect {
        if let Some(e) = self.failed {
            return Expect::Failed(e);
        }
        match self.step {
            Step::Header => Expect::Header,
            Step::RecordHeader => Expect::RecordHeader,
            Step::Tree => Expect::Tree(self.left),
            Step::Payload => Expect::Payload(self.left),
            Step::Data => Expect::Data(self.left),
            Step::End => Expect::End,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The file header, once fed.
    pub fn file_header(&self) -> Option<&FileHeader> {
        self.header.as_ref()
    }

    /// The tree, once fed.
    pub fn tree(&self) -> Option<Tree<'t>> {
        self.tree
    }

    /// Bytes of file data (not padding) left in the current FDATA record,
    /// while [`expect`](Self::expect) says [`Expect::Data`] for it; else 0.
    /// Of the [`Expect::Data`] bytes of an FDATA record, the first this
    /// many are its chunk of the file's content, the rest zero padding.
    pub fn data_chunk_left(&self) -> u64 {
        if self.step == Step::Data && self.cur.kind == RECORD_FDATA && self.failed.is_none() {
            self.left.saturating_sub(self.pad_left)
        } else {
            0
        }
    }

    /// FILE records so far (the largest FILE id an FDS or MAPFILE may name).
    pub fn files(&self) -> u32 {
        self.nfiles
    }

    /// The ROUND record of the round section being read: from a ROUND
    /// record to the TREE (a PAGES record fed meanwhile belongs to it, at
    /// an absolute address of its src's address space); else `None`.
    pub fn round(&self) -> Option<Round> {
        if self.tree.is_none() {
            self.round
        } else {
            None
        }
    }

    /// The header of the current (last fed) record and its offset.
    pub fn current(&self) -> (RecordHeader, u64) {
        (self.cur, self.cur_offset)
    }

    fn fail<T>(&mut self, e: Error) -> Result<T, Error> {
        self.failed = Some(e);
        Err(e)
    }

    fn fail_here<T>(&mut self, kind: ErrorKind) -> Result<T, Error> {
        let e = Error::new(self.cur_offset, self.cur.kind, kind);
        self.fail(e)
    }

    /// Common entry checks: not failed, at `step`; past the end: data after
    /// the trailer.
    fn enter(&mut self, step: Step) -> Result<(), Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.step == Step::End {
            let e = Error::new(self.offset, 0, ErrorKind::DataAfterTrailer);
            return self.fail(e);
        }
        if self.step != step {
            return self.fail_here(ErrorKind::WrongStep);
        }
        Ok(())
    }

    /// Computes the CRC32C with `imp` from now on (see [`CrcImpl`]).
    pub fn set_crc_impl(&mut self, imp: CrcImpl) {
        self.crc.set_impl(imp);
    }

    fn consume(&mut self, bytes: &[u8]) {
        self.crc.update(bytes);
        self.offset = self.offset.saturating_add(to_u64(bytes.len()));
    }

    /// Feeds the file header (exactly [`HEADER_LEN`] bytes; fewer: the input
    /// ended there).
    pub fn feed_header(&mut self, bytes: &[u8]) -> Result<FileHeader, Error> {
        self.enter(Step::Header)?;
        if bytes.len() > HEADER_LEN {
            return self.fail(Error::new(0, 0, ErrorKind::ExcessData));
        }
        match FileHeader::decode(bytes) {
            Ok(h) => {
                self.header = Some(h);
                self.consume(bytes);
                self.step = Step::RecordHeader;
                Ok(h)
            }
            Err(e) => self.fail(e),
        }
    }

    /// The record type required next, at a record boundary (besides it, a
    /// FILES or FDS record may come in stage `MayFiles`, an SHM record right
    /// after a shared anonymous VMA, a MAPFILE right after a file VMA,
    /// PAGES inside a VMA, FILE and FDATA between the TREE and the first
    /// TASK).
    fn expected(&self) -> u32 {
        let sig = self.header.is_some_and(|h| h.minor >= VERSION_MINOR_SIG);
        if self.tree.is_none() {
            RECORD_TREE
        } else if self.stage == TaskStage::NeedRegs {
            RECORD_REGS
        } else if self.stage == TaskStage::NeedFpu {
            RECORD_FPU
        } else if sig && matches!(self.stage, TaskStage::MayFiles | TaskStage::MayThread) {
            RECORD_THREAD
        } else if self.stage == TaskStage::NeedCreds {
            RECORD_CREDS
        } else if self.stage == TaskStage::NeedSignals {
            RECORD_SIGNALS
        } else if self.stage == TaskStage::NeedProcess {
            RECORD_PROCESS
        } else if self.next_task < self.ntasks {
            RECORD_TASK
        } else if self.vmas_left > 0 {
            RECORD_VMA
        } else if self.mms_done < self.nmms {
            RECORD_MM
        } else {
            RECORD_TRAILER
        }
    }

    /// Feeds a record header (exactly [`RECORD_HEADER_LEN`] bytes; fewer:
    /// the input ended there). Checks its type against the place in the
    /// image and its length against the type.
    pub fn feed_record_header(&mut self, bytes: &[u8]) -> Result<RecordHeader, Error> {
        self.enter(Step::RecordHeader)?;
        self.cur_offset = self.offset;
        self.cur = RecordHeader {
            kind: 0,
            flags: 0,
            len: 0,
        };
        if bytes.len() > RECORD_HEADER_LEN {
            return self.fail_here(ErrorKind::ExcessData);
        }
        let h = match RecordHeader::decode(bytes, self.offset) {
            Ok(h) => h,
            Err(e) => return self.fail(e),
        };
        self.cur = h;
        let Some(file) = self.header else {
            return self.fail_here(ErrorKind::WrongStep);
        };
        if !h.is_known() {
            return self.skip_unknown(h, bytes);
        }
        if let Err(k) = self.admit(&h).and_then(|()| check_len(&h, &file)) {
            return self.fail_here(k);
        }
        if h.kind == RECORD_TRAILER {
            self.trailer_expect = (self.records, self.crc.value());
        } else {
            self.records = self.records.saturating_add(1);
        }
        self.consume(bytes);
        let (step, left) = match h.kind {
            RECORD_TREE => (Step::Tree, h.len),
            RECORD_PAGES => (Step::Payload, PAGES_FIXED_LEN as u64),
            RECORD_FDATA => (Step::Payload, FDATA_FIXED_LEN as u64),
            _ => (Step::Payload, h.len),
        };
        self.step = step;
        self.left = left;
        Ok(h)
    }

    /// A record of a type this reader does not know: refused if marked
    /// must-understand, else its payload is skipped (as data).
    fn skip_unknown(&mut self, h: RecordHeader, bytes: &[u8]) -> Result<RecordHeader, Error> {
        if h.flags & RECORD_FLAG_MUST_UNDERSTAND != 0 {
            return self.fail_here(ErrorKind::UnknownMustUnderstand);
        }
        if let Err(k) = self.file_data_complete() {
            return self.fail_here(k);
        }
        self.records = self.records.saturating_add(1);
        self.consume(bytes);
        self.left = h.len;
        self.step = if h.len == 0 {
            Step::RecordHeader
        } else {
            Step::Data
        };
        Ok(h)
    }

    /// Checks a known record's flags and its type against the place in the
    /// image, and closes the optional slots it passes.
    fn admit(&mut self, h: &RecordHeader) -> Result<(), ErrorKind> {
        if h.flags != record_flags(h.kind) {
            return Err(ErrorKind::BadRecordFlags { flags: h.flags });
        }
        if h.kind != RECORD_FDATA {
            self.file_data_complete()?;
        }
        let minor = self.header.map_or(0, |f| f.minor);
        let fdt = matches!(
            h.kind,
            RECORD_FILE | RECORD_FDATA | RECORD_FDS | RECORD_MAPFILE
        );
        if fdt && minor < VERSION_MINOR_FDT {
            return Err(ErrorKind::RecordNewerThanImage { minor });
        }
        let sig = matches!(h.kind, RECORD_CREDS | RECORD_SIGNALS | RECORD_PROCESS);
        if sig && minor < VERSION_MINOR_SIG {
            return Err(ErrorKind::RecordNewerThanImage { minor });
        }
        let live = matches!(h.kind, RECORD_ROUND | RECORD_PREVPAGES);
        if live && minor < VERSION_MINOR_LIVE {
            return Err(ErrorKind::RecordNewerThanImage { minor });
        }
        if h.kind == RECORD_ROUND && self.tree.is_some() {
            return Err(ErrorKind::RoundAfterTree);
        }
        if core::mem::take(&mut self.thread_signals) && h.kind == RECORD_PROCESS {
            return Err(ErrorKind::ProcessInThread {
                index: self.next_task.saturating_sub(1),
            });
        }
        if h.kind == RECORD_FILES && minor >= VERSION_MINOR_FDT {
            return Err(ErrorKind::FilesInNewImage { minor });
        }
        let expected = self.expected();
        // PAGES and PREVPAGES in an MM group (the VMA is checked in
        // `place`); PAGES in a round section; ROUND before the TREE.
        let pages_ok = matches!(h.kind, RECORD_PAGES | RECORD_PREVPAGES)
            && self.stage == TaskStage::None
            && self.next_task == self.ntasks
            && self.mms_done > 0;
        let round_ok = (h.kind == RECORD_ROUND || (h.kind == RECORD_PAGES && self.round.is_some()))
            && self.tree.is_none();
        let files_ok = (matches!(h.kind, RECORD_FILES | RECORD_FDS)
            && self.stage == TaskStage::MayFiles)
            || (h.kind == RECORD_THREAD
                && matches!(self.stage, TaskStage::MayFiles | TaskStage::MayThread));
        let shm_ok = h.kind == RECORD_SHM && self.may_shm;
        let mapfile_ok = h.kind == RECORD_MAPFILE && self.may_mapfile;
        // FILE and FDATA: after the TREE, before the first TASK.
        let file_ok = matches!(h.kind, RECORD_FILE | RECORD_FDATA)
            && self.tree.is_some()
            && self.next_task == 0;
        let ok = pages_ok || round_ok || files_ok || shm_ok || mapfile_ok || file_ok;
        if h.kind != expected && !ok {
            return Err(ErrorKind::OutOfOrder { expected });
        }
        // The FILES slot closes at the next known record, whatever it is;
        // so does the SHM slot (an SHM record closes it in `place`).
        if matches!(self.stage, TaskStage::MayFiles | TaskStage::MayThread) && !files_ok {
            self.stage = TaskStage::None;
        }
        if h.kind != RECORD_SHM {
            self.may_shm = false;
        }
        if h.kind != RECORD_MAPFILE {
            self.may_mapfile = false;
        }
        Ok(())
    }

    /// The last FILE's data is complete (else only its FDATA may come).
    fn file_data_complete(&self) -> Result<(), ErrorKind> {
        let (len, done) = self.file_data;
        if done < len {
            return Err(ErrorKind::FileDataIncomplete {
                file: self.nfiles,
                missing: len.saturating_sub(done),
            });
        }
        Ok(())
    }

    /// Takes the payload bytes of the current step; fewer than required:
    /// the input ended there.
    fn take_exact(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let n = to_u64(bytes.len());
        if n > self.left {
            return self.fail_here(ErrorKind::ExcessData);
        }
        if n < self.left {
            return self.fail_here(ErrorKind::TruncatedRecord {
                missing: self.left.saturating_sub(n),
            });
        }
        Ok(())
    }

    /// Feeds the whole TREE payload, which must outlive the validator.
    pub fn feed_tree(&mut self, payload: &'t [u8]) -> Result<Tree<'t>, Error> {
        self.enter(Step::Tree)?;
        self.take_exact(payload)?;
        let tree = match Tree::decode(payload) {
            Ok(t) => t,
            Err(k) => return self.fail_here(k),
        };
        let nmms = match tree.check() {
            Ok(n) => n,
            Err(k) => return self.fail_here(k),
        };
        self.tree = Some(tree);
        self.ntasks = tree.len();
        self.nmms = nmms;
        self.consume(payload);
        self.step = Step::RecordHeader;
        Ok(tree)
    }

    /// Feeds the whole payload of the current record (for PAGES: its fixed
    /// part only, then the page data through [`feed_data`](Self::feed_data)).
    /// Returns the decoded record, borrowing from `payload`.
    pub fn feed_payload<'p>(&mut self, payload: &'p [u8]) -> Result<Record<'p>, Error> {
        self.enter(Step::Payload)?;
        self.take_exact(payload)?;
        let Some(file) = self.header else {
            return self.fail_here(ErrorKind::WrongStep);
        };
        let rec = if self.cur.kind == RECORD_PAGES {
            Pages::decode_fixed(payload, self.cur.len, &file).map(|(addr, nr_pages)| {
                Record::Pages(Pages {
                    addr,
                    nr_pages,
                    data: &[],
                })
            })
        } else {
            decode_known(&self.cur, payload, &file)
        };
        let rec = match rec {
            Ok(r) => r,
            Err(k) => return self.fail_here(k),
        };
        if let Err(k) = self.place(&rec, &file) {
            return self.fail_here(k);
        }
        self.consume(payload);
        self.step = match rec {
            Record::Trailer(_) => Step::End,
            Record::Pages(_) => {
                self.left = self.cur.len.saturating_sub(PAGES_FIXED_LEN as u64);
                Step::Data
            }
            Record::FileData(_) => {
                self.left = self.cur.len.saturating_sub(FDATA_FIXED_LEN as u64);
                Step::Data
            }
            _ => Step::RecordHeader,
        };
        Ok(rec)
    }

    /// Checks a decoded record against the state and updates it.
    fn place(&mut self, rec: &Record<'_>, file: &FileHeader) -> Result<(), ErrorKind> {
        match rec {
            Record::Task(t) => self.place_task(t)?,
            Record::Regs(_) => self.stage = TaskStage::NeedFpu,
            Record::Fpu(_) => self.stage = TaskStage::MayFiles,
            Record::Files(_) => self.stage = TaskStage::MayThread,
            Record::Fds(f) => self.place_fds(f)?,
            Record::File(f) => self.place_file(f)?,
            Record::FileData(d) => self.place_fdata(d)?,
            Record::MapFile(m) => self.place_mapfile(m)?,
            Record::Thread(_) => {
                self.stage = if file.minor >= VERSION_MINOR_SIG {
                    TaskStage::NeedCreds
                } else {
                    TaskStage::None
                }
            }
            Record::Creds(_) => self.stage = TaskStage::NeedSignals,
            Record::Signals(s) => self.place_signals(s)?,
            Record::Process(p) => self.place_process(p)?,
            Record::Shm(s) => self.place_shm(s)?,
            Record::Mm(m) => self.place_mm(m)?,
            Record::Vma(v) => self.place_vma(v)?,
            Record::Pages(p) if self.tree.is_none() => self.place_round_pages(p, file)?,
            Record::Pages(p) => self.place_pages(p, file)?,
            Record::Round(r) => self.place_round(r)?,
            Record::PrevPages(p) => self.place_prev_pages(p, file)?,
            Record::Trailer(t) => self.check_trailer(t)?,
            Record::Tree(_) | Record::Unknown { .. } => {}
        }
        Ok(())
    }

    /// A TASK: the next task of the tree; a live one's REGS comes next.
    fn place_task(&mut self, t: &Task) -> Result<(), ErrorKind> {
        if t.index != self.next_task {
            return Err(ErrorKind::TaskIndexMismatch {
                index: t.index,
                expected: self.next_task,
            });
        }
        let e = self
            .tree
            .and_then(|tr| tr.get(t.index))
            .ok_or(ErrorKind::OutOfOrder {
                expected: RECORD_TREE,
            })?;
        if t.pid != e.pid() {
            return Err(ErrorKind::TaskPidMismatch {
                pid: t.pid,
                expected: e.pid(),
            });
        }
        self.next_task = self.next_task.saturating_add(1);
        self.cur_thread = e.is_thread();
        self.stage = if e.is_zombie() {
            TaskStage::None
        } else {
            TaskStage::NeedRegs
        };
        Ok(())
    }

    /// A FILE: the next id; its pipe id seen before or the next new one,
    /// the buffered data on the first FILE of a pipe only.
    fn place_file(&mut self, f: &OpenFile<'_>) -> Result<(), ErrorKind> {
        let expected = self.nfiles.saturating_add(1);
        if f.id != expected {
            return Err(ErrorKind::BadFileId { id: f.id, expected });
        }
        if f.kind.is_pipe() {
            let next = self.pipe_max.saturating_add(1);
            if f.pipe > next {
                return Err(ErrorKind::PipeIdNotInOrder {
                    id: f.id,
                    pipe: f.pipe,
                    next,
                });
            }
            if f.pipe < next && f.data_len != 0 {
                return Err(ErrorKind::BadFileDataLen {
                    id: f.id,
                    data_len: f.data_len,
                });
            }
            self.pipe_max = self.pipe_max.max(f.pipe);
        }
        self.nfiles = expected;
        self.file_data = (f.data_len, 0);
        Ok(())
    }

    /// An FDATA: the next chunk of the last FILE's data: its file, at the
    /// bytes so far, a multiple of 8 bytes unless it ends the data exactly.
    fn place_fdata(&mut self, d: &FileData<'_>) -> Result<(), ErrorKind> {
        let (len, done) = self.file_data;
        let left = len.saturating_sub(done);
        if left == 0 {
            return Err(ErrorKind::FdataUnexpected);
        }
        if d.file != self.nfiles {
            return Err(ErrorKind::FdataBadFile {
                file: d.file,
                expected: self.nfiles,
            });
        }
        if d.offset != done {
            return Err(ErrorKind::FdataBadOffset {
                offset: d.offset,
                expected: done,
            });
        }
        let plen = self.cur.len.saturating_sub(FDATA_FIXED_LEN as u64);
        let chunk = if plen > 0 && plen < left {
            plen
        } else if usize::try_from(left)
            .ok()
            .and_then(pad8)
            .is_some_and(|p| to_u64(p) == plen)
        {
            left
        } else {
            return Err(ErrorKind::FdataBadLength { len: plen, left });
        };
        self.file_data = (len, done.saturating_add(chunk));
        self.pad_left = plen.saturating_sub(chunk);
        Ok(())
    }

    /// An FDS: a thread group leader's, naming FILE ids only.
    fn place_fds(&mut self, f: &Fds<'_>) -> Result<(), ErrorKind> {
        if self.cur_thread {
            return Err(ErrorKind::FdsInThread {
                index: self.next_task.saturating_sub(1),
            });
        }
        if let Some(e) = f.iter().find(|e| e.file > self.nfiles) {
            return Err(ErrorKind::FdsBadFile {
                fd: e.fd,
                file: e.file,
            });
        }
        self.stage = TaskStage::MayThread;
        Ok(())
    }

    /// A SIGNALS: a thread's has no entry of the shared queue, and no
    /// PROCESS follows it; a leader's PROCESS comes next.
    fn place_signals(&mut self, s: &Signals<'_>) -> Result<(), ErrorKind> {
        if self.cur_thread {
            if s.nshared != 0 {
                return Err(ErrorKind::SharedPendingInThread {
                    index: self.next_task.saturating_sub(1),
                });
            }
            self.thread_signals = true;
            self.stage = TaskStage::None;
        } else {
            self.stage = TaskStage::NeedProcess;
        }
        Ok(())
    }

    /// A PROCESS: each timer aimed at a thread aims at a live task of the
    /// leader's thread group (found after the leader in the tree).
    fn place_process(&mut self, p: &Process<'_>) -> Result<(), ErrorKind> {
        let index = self.next_task.saturating_sub(1);
        let tree = self.tree.ok_or(ErrorKind::OutOfOrder {
            expected: RECORD_TREE,
        })?;
        let tgid = tree.get(index).map_or(0, |e| e.tgid);
        let mut last_ok = None;
        for t in p.timers.iter().filter(|t| t.to_thread()) {
            if last_ok == Some(t.tid) {
                continue;
            }
            match tree.group_member(index, tgid, t.tid) {
                Some(e) if !e.is_zombie() => last_ok = Some(t.tid),
                _ => {
                    return Err(ErrorKind::TimerTidNotInGroup {
                        id: t.id,
                        tid: t.tid,
                    })
                }
            }
        }
        self.stage = TaskStage::None;
        Ok(())
    }

    /// A MAPFILE: its FILE id, if any, is one of the image's.
    fn place_mapfile(&mut self, m: &MapFile) -> Result<(), ErrorKind> {
        if m.file > self.nfiles {
            return Err(ErrorKind::MapFileBadFile {
                file: m.file,
                files: self.nfiles,
            });
        }
        self.may_mapfile = false;
        Ok(())
    }

    /// An SHM: each id is one seen before (at most the largest so far: ids
    /// have no gaps) or the next new one.
    fn place_shm(&mut self, s: &Shm) -> Result<(), ErrorKind> {
        let next = self.shm_max.saturating_add(1);
        if s.id == 0 {
            return Err(ErrorKind::BadShmId { id: s.id });
        }
        if s.id > next {
            return Err(ErrorKind::ShmIdNotInOrder { id: s.id, next });
        }
        self.shm_max = self.shm_max.max(s.id);
        self.may_shm = false;
        Ok(())
    }

    /// An MM: the next mm id; its VMAs come next.
    fn place_mm(&mut self, m: &Mm<'_>) -> Result<(), ErrorKind> {
        let expected = self.mms_done.saturating_add(1);
        if m.mm_id != expected {
            return Err(ErrorKind::MmIdMismatch {
                mm_id: m.mm_id,
                expected,
            });
        }
        self.mms_done = expected;
        self.vmas_left = m.nr_vmas;
        self.cur_vma = None;
        self.cur_vma_kind = 0;
        self.prev_vma = None;
        self.mm_src = 0;
        Ok(())
    }

    /// A VMA: above the previous one of its mm, not overlapping it.
    fn place_vma(&mut self, v: &Vma<'_>) -> Result<(), ErrorKind> {
        if let Some((ps, pe)) = self.prev_vma {
            if v.start < ps {
                return Err(ErrorKind::VmaUnsorted);
            }
            if v.start < pe {
                return Err(ErrorKind::VmaOverlap);
            }
        }
        self.vmas_left = self.vmas_left.saturating_sub(1);
        self.cur_vma = Some((v.start, v.end));
        self.cur_vma_kind = v.kind.as_u32();
        self.prev_vma = self.cur_vma;
        self.may_shm = v.kind == VmaKind::SharedAnon;
        self.may_mapfile = v.kind.has_path();
        self.pages_floor = v.start;
        self.vmas = self.vmas.saturating_add(1);
        Ok(())
    }

    /// A PAGES run: inside the current VMA, above the previous run.
    fn place_pages(&mut self, p: &Pages<'_>, file: &FileHeader) -> Result<(), ErrorKind> {
        let (vs, ve) = self.cur_vma.ok_or(ErrorKind::PagesOutsideVma)?;
        let end = p.end(file.page_size).ok_or(ErrorKind::PagesOutsideVma)?;
        if p.addr < vs || end > ve {
            return Err(ErrorKind::PagesOutsideVma);
        }
        if p.addr < self.pages_floor {
            return Err(ErrorKind::PagesNotAscending);
        }
        self.pages_floor = end;
        self.page_runs = self.page_runs.saturating_add(1);
        self.pages = self.pages.saturating_add(p.nr_pages);
        Ok(())
    }

    /// A ROUND: (round, src) above the previous ROUND's; opens its
    /// section.
    fn place_round(&mut self, r: &Round) -> Result<(), ErrorKind> {
        if let Some(p) = self.round {
            if (r.round, r.src) <= (p.round, p.src) {
                return Err(ErrorKind::RoundNotAscending {
                    round: r.round,
                    src: r.src,
                    prev_round: p.round,
                    prev_src: p.src,
                });
            }
        }
        if let Some((w, bit)) = src_bit(r.src) {
            if let Some(word) = self.round_srcs.get_mut(w) {
                *word |= bit;
            }
        }
        self.round = Some(*r);
        self.round_floor = 0;
        self.rounds = self.rounds.max(r.round);
        self.round_sections = self.round_sections.saturating_add(1);
        Ok(())
    }

    /// A PAGES run of a round section: in user space, above the previous
    /// run of the section.
    fn place_round_pages(&mut self, p: &Pages<'_>, file: &FileHeader) -> Result<(), ErrorKind> {
        let end = p
            .end(file.page_size)
            .filter(|&e| e <= file.user_space_end())
            .ok_or(ErrorKind::RoundPagesInKernelSpace { addr: p.addr })?;
        if p.addr < self.round_floor {
            return Err(ErrorKind::RoundPagesNotAscending {
                addr: p.addr,
                floor: self.round_floor,
            });
        }
        self.round_floor = end;
        self.round_runs = self.round_runs.saturating_add(1);
        self.round_pages = self.round_pages.saturating_add(p.nr_pages);
        Ok(())
    }

    /// A PREVPAGES run: in a private, stack or heap VMA, inside it, above
    /// the VMA's previous PAGES or PREVPAGES run; of a src that has a
    /// ROUND section, the same for the whole MM group.
    fn place_prev_pages(&mut self, p: &PrevPages, file: &FileHeader) -> Result<(), ErrorKind> {
        let outside = ErrorKind::PrevPagesOutsideVma {
            addr: p.addr,
            nr_pages: p.nr_pages,
        };
        let (vs, ve) = self.cur_vma.ok_or(outside)?;
        let precopied = [
            VmaKind::AnonPrivate,
            VmaKind::FilePrivate,
            VmaKind::Stack,
            VmaKind::Heap,
        ];
        if !precopied.iter().any(|k| k.as_u32() == self.cur_vma_kind) {
            return Err(ErrorKind::PrevPagesBadVmaKind {
                kind: self.cur_vma_kind,
            });
        }
        let end = p.end(file.page_size).ok_or(outside)?;
        if p.addr < vs || end > ve {
            return Err(outside);
        }
        if p.addr < self.pages_floor {
            return Err(ErrorKind::PrevPagesNotAscending {
                addr: p.addr,
                floor: self.pages_floor,
            });
        }
        let seen = src_bit(p.src)
            .and_then(|(w, bit)| Some(self.round_srcs.get(w)? & bit != 0))
            .unwrap_or(false);
        if !seen {
            return Err(ErrorKind::PrevPagesUnknownSrc { src: p.src });
        }
        if self.mm_src != 0 && p.src != self.mm_src {
            return Err(ErrorKind::PrevPagesSrcMismatch {
                src: p.src,
                expected: self.mm_src,
            });
        }
        self.mm_src = p.src;
        self.pages_floor = end;
        self.prev_runs = self.prev_runs.saturating_add(1);
        self.prev_pages = self.prev_pages.saturating_add(p.nr_pages);
        Ok(())
    }

    /// The TRAILER: its count, size and CRC32C are the image's.
    fn check_trailer(&self, t: &Trailer) -> Result<(), ErrorKind> {
        let (records, crc) = self.trailer_expect;
        if t.records != records {
            return Err(ErrorKind::TrailerCountMismatch {
                found: t.records,
                expected: records,
            });
        }
        let total = self.cur_offset.saturating_add(TRAILER_RECORD_LEN as u64);
        if t.total_bytes != total {
            return Err(ErrorKind::TrailerSizeMismatch {
                found: t.total_bytes,
                expected: total,
            });
        }
        if t.crc32c != crc {
            return Err(ErrorKind::TrailerCrcMismatch {
                found: t.crc32c,
                expected: crc,
            });
        }
        Ok(())
    }

    /// Feeds page data of the current PAGES record, the data of the
    /// current FDATA record (its padding too, checked zero), or the payload
    /// of a skipped record, in pieces of any size.
    pub fn feed_data(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let imp = self.crc.imp;
        let pad = self.data_chunk_left();
        if self.step == Step::Data
            && self.cur.kind == RECORD_FDATA
            && to_u64(bytes.len()) <= self.left
        {
            let from = usize::try_from(pad).unwrap_or(usize::MAX);
            if bytes.get(from..).is_some_and(|p| p.iter().any(|&b| b != 0)) {
                return self.fail_here(ErrorKind::NonZeroPadding);
            }
        }
        self.data_crc(to_u64(bytes.len()), |st| Some(imp(st, bytes)))
            .map(|_| ())
    }

    /// Like [`feed_data`](Self::feed_data) for `len` bytes that the caller
    /// checksums itself, without handing them over: `crc` maps the raw
    /// CRC32C state over them (see [`CrcImpl`]), or says `None` if it could
    /// not (the bytes are then not consumed, and `Ok(false)` is returned).
    /// `crc` is called only if the bytes fit the current record's data.
    /// For an FDATA record, only its data (not the padding, which must be
    /// seen to be checked: feed it with [`feed_data`](Self::feed_data)),
    /// else [`ErrorKind::WrongStep`].
    pub fn feed_data_crc(
        &mut self,
        len: u64,
        crc: impl FnOnce(u32) -> Option<u32>,
    ) -> Result<bool, Error> {
        self.enter(Step::Data)?;
        if self.cur.kind == RECORD_FDATA && len > self.data_chunk_left() && len <= self.left {
            return self.fail_here(ErrorKind::WrongStep);
        }
        self.data_crc(len, crc)
    }

    fn data_crc(&mut self, len: u64, crc: impl FnOnce(u32) -> Option<u32>) -> Result<bool, Error> {
        self.enter(Step::Data)?;
        let Some(left) = self.left.checked_sub(len) else {
            return self.fail_here(ErrorKind::ExcessData);
        };
        let Some(state) = crc(self.crc.state()) else {
            return Ok(false);
        };
        self.crc.update_with(|_| state);
        self.offset = self.offset.saturating_add(len);
        self.left = left;
        if left == 0 {
            self.step = Step::RecordHeader;
        }
        Ok(true)
    }

    /// Tells the validator the input ended; `Ok` only after a valid trailer.
    pub fn end_of_input(&mut self) -> Result<Summary, Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let missing = |s: &Self| ErrorKind::TruncatedRecord { missing: s.left };
        match (self.step, self.header) {
            (Step::End, Some(header)) => Ok(Summary {
                header,
                records: self.trailer_expect.0,
                total_bytes: self.offset,
                crc32c: self.trailer_expect.1,
                tasks: self.ntasks,
                mms: self.nmms,
                vmas: self.vmas,
                page_runs: self.page_runs,
                pages: self.pages,
                shm_objects: self.shm_max,
                files: self.nfiles,
                rounds: self.rounds,
                round_sections: self.round_sections,
                round_runs: self.round_runs,
                round_pages: self.round_pages,
                prev_runs: self.prev_runs,
                prev_pages: self.prev_pages,
            }),
            (Step::Header, _) | (_, None) => {
                self.fail(Error::new(0, 0, ErrorKind::TruncatedHeader))
            }
            (Step::RecordHeader, _) => {
                let e = Error::new(self.offset, 0, ErrorKind::MissingTrailer);
                self.fail(e)
            }
            _ => {
                let k = missing(self);
                self.fail_here(k)
            }
        }
    }
}

/// The word and bit of `src` (1..=[`MAX_LIVE_SRCS`]) in the validator's
/// bitmap of srcs; `None` for an invalid src.
fn src_bit(src: u32) -> Option<(usize, u64)> {
    let i = src.checked_sub(1).filter(|&i| i < MAX_LIVE_SRCS)?;
    Some(((i / 64) as usize, 1u64 << (i % 64)))
}
