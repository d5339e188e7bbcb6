// SPDX-License-Identifier: GPL-2.0
//! Live checkpoint (`CKPT_ROUND`, `CKPT_FINAL`): the caller's sources
//! ([`LiveSrc`], one per address space) copied in and checked, their
//! ranges ([`SrcRef::ranges`]), which address space each names in the
//! tree ([`assign`]), and the round itself ([`round`]): the tree runs
//! while the pages of its private memory that the sources name are
//! appended to the stream in ROUND sections.
//!
//! The module keeps nothing between calls: the stream's state (offset,
//! records, CRC32C) comes in and goes back out through [`LiveArgs`], the
//! dirty ranges are the caller's (soft-dirty tracking), and the final call
//! ([`crate::checkpoint`]) is the normal checkpoint of the stopped tree
//! whose memory refers to the rounds (PREVPAGES) for what did not change.

use kernel::error::code;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::types::ARef;
use kernel::uaccess::UserSlice;

use crate::dump_mm;
use crate::error::{fail, Fail};
use crate::image_out::{ImageOut, OutFile, StreamState};
use crate::mm::MmWithUser;
use crate::pid::PidNamespace;
use crate::task::{self, Task, TaskExt};
use crate::uapi::{CheckpointArgs, LiveArgs, LiveSrc, CKPT_ROUND};

/// One source of the caller's array, checked: where its ranges are.
pub(crate) struct SrcRef {
    /// Its position in the caller's array (for messages).
    pub(crate) index: usize,
    pub(crate) pid: i32,
    /// Its id, 0 (FINAL) for an address space without rounds.
    pub(crate) src: u32,
    nr_ranges: u32,
    ranges: u64,
}

/// Pairs of `u64` read from user space at once.
const RANGE_CHUNK: usize = 256;

impl SrcRef {
    /// Copies its ranges in and checks them: each `start < end`, both
    /// page multiples, `end` at most the end of user space, sorted and
    /// disjoint.
    ///
    /// # Errors
    /// `EINVAL` naming the source and the range, `EFAULT`, `ENOMEM`,
    /// `EINTR` on a signal.
    pub(crate) fn ranges(&self) -> Result<KVVec<(u64, u64)>, Fail> {
        let n = self.nr_ranges as usize;
        let mut out = KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        if n == 0 {
            return Ok(out);
        }
        let at = usize::try_from(self.ranges).map_err(|_| code::EFAULT)?;
        let bytes = n.checked_mul(16).ok_or(code::EINVAL)?;
        let mut r = UserSlice::new(at, bytes).reader();
        let top = crate::machine::task_size();
        let ps = PAGE_SIZE as u64;
        let mut buf = [0u8; RANGE_CHUNK * 16];
        let mut last_end = 0u64;
        let mut k = 0usize;
        while k < n {
            if crate::signal::current_pending() {
                return Err(code::EINTR.into());
            }
            let m = (n - k).min(RANGE_CHUNK);
            let chunk = &mut buf[..m * 16];
            r.read_slice(chunk).map_err(|e| {
                fail!(
                    e,
                    "live source {} (pid {}): reading its ranges: error {}",
                    self.index,
                    self.pid,
                    e.to_errno()
                )
            })?;
            for pair in chunk.chunks_exact(16) {
                let (s, e) = pair.split_at(8);
                let start = u64::from_ne_bytes(s.try_into().map_err(|_| code::EINVAL)?);
                let end = u64::from_ne_bytes(e.try_into().map_err(|_| code::EINVAL)?);
                let why = if start >= end {
                    Some("start not below end")
                } else if start % ps != 0 || end % ps != 0 {
                    Some("not page aligned")
                } else if end > top {
                    Some("beyond the end of user space")
                } else if k > 0 && start < last_end {
                    Some("not sorted after, or overlapping, the range before it")
                } else {
                    None
                };
                if let Some(why) = why {
                    return Err(fail!(
                        code::EINVAL,
                        "live source {} (pid {}, src {}): range {} {:#x}-{:#x}: {}",
                        self.index,
                        self.pid,
                        self.src,
                        k,
                        start,
                        end,
                        why
                    ));
                }
                out.push((start, end), GFP_KERNEL_ACCOUNT)?;
                last_end = end;
                k += 1;
            }
        }
        Ok(out)
    }
}

/// Copies in the caller's `live.nr_srcs` sources and checks each (its
/// fields for `flags`, its ranges), then sorts them by id: a call writes
/// the sections of its sources in increasing id order. Ids other than 0
/// must be distinct.
///
/// # Errors
/// `EINVAL` with a message naming the source, `EFAULT`, `ENOMEM`.
pub(crate) fn copy_srcs(live: &LiveArgs, flags: u32) -> Result<KVec<SrcRef>, Fail> {
    let n = live.nr_srcs as usize;
    let at = usize::try_from(live.srcs).map_err(|_| code::EFAULT)?;
    let size = n
        .checked_mul(core::mem::size_of::<LiveSrc>())
        .ok_or(code::EINVAL)?;
    let mut r = UserSlice::new(at, size).reader();
    let mut srcs = KVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
    for index in 0..n {
        let s: LiveSrc = r.read()?;
        if s.check(flags).is_err() {
            return Err(fail!(
                code::EINVAL,
                "live source {} (pid {}): src {}, {} ranges: out of range or padding not 0",
                index,
                s.pid,
                s.src,
                s.nr_ranges
            ));
        }
        let sref = SrcRef {
            index,
            pid: s.pid,
            src: s.src,
            nr_ranges: s.nr_ranges,
            ranges: s.ranges,
        };
        // Checked now, before a byte is written; copied again when used.
        drop(sref.ranges()?);
        srcs.push(sref, GFP_KERNEL_ACCOUNT)?;
    }
    crate::sort::heap_sort_by_key(&mut srcs, |s| (s.src, s.index));
    for w in srcs.windows(2) {
        if w[0].src != 0 && w[0].src == w[1].src {
            return Err(fail!(
                code::EINVAL,
                "live sources {} and {}: the same src {}",
                w[0].index,
                w[1].index,
                w[0].src
            ));
        }
    }
    Ok(srcs)
}

/// The task of `tasks` (the tree) that source `s` names.
///
/// # Errors
/// `EINVAL` if its pid is no task of the tree.
fn task_of(s: &SrcRef, tasks: &[ARef<Task>]) -> Result<usize, Fail> {
    let t = task::from_vpid(s.pid);
    t.as_ref()
        .and_then(|t| tasks.iter().position(|x| x.same(t)))
        .ok_or_else(|| {
            fail!(
                code::EINVAL,
                "live source {} (src {}): pid {} is not a process of the tree",
                s.index,
                s.src,
                s.pid
            )
        })
}

/// For each address space of `mms` (the tree's), the source that names
/// it (by a pid of the tree using it), if any; sources of tasks without
/// an address space (zombies) name none. A source id 0 names an address
/// space without rounds (None).
///
/// # Errors
/// `EINVAL` for a pid outside the tree or two sources of one address
/// space.
pub(crate) fn assign(
    srcs: KVec<SrcRef>,
    tasks: &[ARef<Task>],
    mms: &[ARef<MmWithUser>],
) -> Result<KVec<Option<SrcRef>>, Fail> {
    let mut per_mm = KVec::with_capacity(mms.len(), GFP_KERNEL_ACCOUNT)?;
    let mut taken = KVec::from_elem(usize::MAX, mms.len(), GFP_KERNEL_ACCOUNT)?;
    for _ in 0..mms.len() {
        per_mm.push(None, GFP_KERNEL_ACCOUNT)?;
    }
    for s in srcs {
        let k = task_of(&s, tasks)?;
        let Some(mm) = MmWithUser::of_task(&tasks[k]) else {
            continue;
        };
        let Some(i) = mms.iter().position(|m| m.is(&mm)) else {
            continue;
        };
        if taken[i] != usize::MAX {
            return Err(fail!(
                code::EINVAL,
                "live sources {} and {} (pids {}): the same address space",
                taken[i],
                s.index,
                s.pid
            ));
        }
        taken[i] = s.index;
        if s.src != 0 {
            per_mm[i] = Some(s);
        }
    }
    Ok(per_mm)
}

/// Sets the stream state and counts of a call into the caller's block.
pub(crate) fn report_state(live: &mut LiveArgs, st: &StreamState) {
    live.offset = st.offset;
    live.records = st.records;
    live.crc = st.crc;
    live.pages = st.pages;
    live.prev_pages = st.prev_pages;
}

/// `CKPT_ROUND`: one pre-copy round of the running tree rooted at
/// `args.pid`. Every task must be one the caller may read (not a kernel
/// thread, the ptrace permission rules; no stop is needed); the output
/// must not be a file the tree maps. Writes the file header first when
/// the stream is new, then per source, in id order, a ROUND record and
/// the PAGES of its address space inside its ranges; sets the new stream
/// state and the pages copied in `live`. The tree is not changed.
///
/// # Errors
/// `ESRCH`, `EPERM`, `EINVAL` (a bad source or range, a pid outside the
/// tree, two sources of one address space), `ETXTBSY`, `EINTR`, what
/// writing the output gives.
pub(crate) fn round(args: &CheckpointArgs, live: &mut LiveArgs) -> Result<(), Fail> {
    let file = OutFile::get(args.fd)?;
    let root = task::from_vpid(args.pid).ok_or(code::ESRCH)?;
    let tasks = task::collect_tree(&root, crate::checkpoint::MAX_TASKS)?;
    if tasks.is_empty() {
        return Err(code::ESRCH.into());
    }
    for t in tasks.iter() {
        t.check_live()?;
    }
    let ns = PidNamespace::of_task(&root).ok_or(code::ESRCH)?;
    let srcs = copy_srcs(live, CKPT_ROUND)?;
    let order: KVec<usize> = {
        let mut o = KVec::with_capacity(tasks.len(), GFP_KERNEL)?;
        for k in 0..tasks.len() {
            o.push(k, GFP_KERNEL)?;
        }
        o
    };
    let (mms, _, _) = dump_mm::collect(&tasks, &order)?;
    // Writing the image into a file the tree maps would change its memory.
    for mm in mms.iter() {
        if mm.mmap_read_lock_killable()?.maps_file(file.file()) {
            return Err(fail!(code::ETXTBSY, "the image file is mapped by the tree"));
        }
    }
    // Each source's task, address space and pid in the tree's namespace,
    // all checked before a byte is written.
    let mut plan: KVec<(usize, Option<ARef<MmWithUser>>, u32)> =
        KVec::with_capacity(srcs.len(), GFP_KERNEL)?;
    for s in srcs.iter() {
        let k = task_of(s, &tasks)?;
        let mm = MmWithUser::of_task(&tasks[k]);
        if let Some(m) = mm.as_ref() {
            if let Some(o) = plan
                .iter()
                .zip(srcs.iter())
                .find(|((_, om, _), _)| om.as_ref().is_some_and(|om| om.is(m)))
            {
                return Err(fail!(
                    code::EINVAL,
                    "live sources {} and {} (pids {}): the same address space",
                    o.1.index,
                    s.index,
                    s.pid
                ));
            }
        }
        let pid = tasks[k].info(&ns)?.tgid;
        plan.push((k, mm, u32::try_from(pid).unwrap_or(0)), GFP_KERNEL)?;
    }
    let mut out = ImageOut::resume(file, live.offset, live.records, live.crc)?;
    if out.at_start() {
        out.header()?;
    }
    for (s, (_, mm, pid)) in srcs.iter().zip(plan.iter()) {
        out.round(live.round, s.src, *pid)?;
        // A process that left its address space (exiting) has no pages.
        if let Some(mm) = mm.as_ref() {
            let ranges = s.ranges()?;
            dump_mm::write_round(&mut out, mm, &ranges)?;
        }
    }
    let st = out.end()?;
    report_state(live, &st);
    Ok(())
}
