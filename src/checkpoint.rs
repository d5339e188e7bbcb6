// SPDX-License-Identifier: GPL-2.0
//! `checkpoint(pid, fd, flags)`: dump a stopped process tree into an image
//! streamed over the caller's fd.
//!
//! The order of work:
//! 1. take the output fd (`EBADF` unless open for writing);
//! 2. find the root (`ESRCH`), collect the tree (every thread of every
//!    descendant) and check each task: `EPERM` for a kernel thread or a task
//!    the caller could not ptrace, `EBUSY` unless ptrace-stopped by the caller;
//!    the output must not be a file the tree maps (`ETXTBSY`);
//! 3. stream the image: header, tree, then per task its state, registers,
//!    FPU and open fds ([`crate::dump_task`]), then per address space its layout, VMAs and
//!    pages ([`crate::dump_mm`]), then the trailer with counts and a CRC32C;
//! 4. check every task once more: a tree that moved during the dump gives
//!    `EBUSY` (the image has no trailer and is refused by every reader).
//!
//! Nothing here changes the tree: it is read, never written, and stays
//! stopped whatever happens.

use kernel::error::code;
use kernel::prelude::*;

use crate::dump_mm;
use crate::dump_task;
use crate::image_out::{ImageOut, OutFile};
use crate::pid::PidNamespace;
use crate::task::{self, TaskExt};
use crate::uapi::CheckpointArgs;

/// Most tasks (threads included) one checkpoint takes.
pub(crate) const MAX_TASKS: usize = 4096;

/// The `checkpoint` operation.
pub(crate) fn checkpoint(args: &CheckpointArgs) -> Result<isize> {
    let file = OutFile::get(args.fd)?;
    let root = task::from_vpid(args.pid).ok_or(code::ESRCH)?;
    let tasks = task::collect_tree(&root, MAX_TASKS)?;
    if tasks.is_empty() {
        return Err(code::ESRCH);
    }
    for t in tasks.iter() {
        t.check_dump()?;
    }
    let ns = PidNamespace::of_task(&root).ok_or(code::ESRCH)?;
    let infos = dump_task::collect_infos(&tasks, &ns)?;
    let root_tgid = root.info(&ns)?.tgid;
    let order = dump_task::tree_order(&infos, root_tgid)?;
    let (mms, mm_ids) = dump_mm::collect(&tasks, &order)?;
    // Writing the image into a file the tree maps would change its memory.
    for mm in mms.iter() {
        if mm.mmap_read_lock_killable()?.maps_file(file.file()) {
            pr_info!("cptrst: checkpoint: the image file is mapped by the tree\n");
            return Err(code::ETXTBSY);
        }
    }

    let mut out = ImageOut::new(file)?;
    out.header()?;
    dump_task::write_tree(&mut out, &infos, &order, &mm_ids)?;
    let mut xstate = KVVec::from_elem(0u8, out.xstate_size(), GFP_KERNEL)?;
    let mut fds = dump_task::FdScratch::new()?;
    for (index, &k) in order.iter().enumerate() {
        let index = u32::try_from(index).map_err(|_| code::E2BIG)?;
        dump_task::write_task(&mut out, index, &tasks[k], &infos[k], &mut xstate, &mut fds)?;
    }
    dump_mm::write_mms(&mut out, &mms)?;
    // The tree must not have moved while it was read.
    for t in tasks.iter() {
        t.check_dump()?;
    }
    out.finish()?;
    Ok(0)
}
