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
//! 3. the pre-pass ([`crate::dump_files`]): every live thread group
//!    leader's fd table, umask, root and cwd, every distinct open file and
//!    the files of memfd and deleted-file mappings, each classified; what
//!    cannot be checkpointed (a socket at fd 3 or more, an eventfd, a
//!    /proc file...) is refused here with `EOPNOTSUPP` and a message
//!    naming the task, the fd and the kind, before any byte is written;
//!    then every live task's credentials, signal state, limits and timers
//!    ([`crate::dump_signals`]), refused likewise (seccomp, io_uring, a
//!    CPU-clock timer, SIGKILL pending...);
//! 4. stream the image: header, tree, the FILE objects with their data
//!    (FDATA), then per task its state, registers, FPU, fd table (FDS),
//!    thread state ([`crate::dump_task`]), credentials, signals and for a
//!    thread group leader its process state (CREDS, SIGNALS, PROCESS), then per address space its
//!    layout, VMAs (each file VMA with its MAPFILE) and pages
//!    ([`crate::dump_mm`]), then the trailer with counts and a CRC32C;
//! 5. check every task once more: a tree that moved during the dump gives
//!    `EBUSY` (the image has no trailer and is refused by every reader).
//!
//! Nothing here changes the tree: it is read, never written (no file
//! position moves, pipe data is peeked, not consumed), and stays stopped
//! whatever happens. A failure's message goes to the caller's buffer
//! (`msg`, `msg_len`), as restart's does.
//!
//! A live checkpoint's rounds (`CKPT_ROUND`) are [`crate::live::round`].
//! Its final call (`CKPT_FINAL`) is this checkpoint of the stopped tree,
//! continuing the rounds' stream (no header; the state from [`LiveArgs`]),
//! where each address space that a source with rounds names has its
//! present private pages outside the source's dirty ranges written as
//! PREVPAGES references to the rounds ([`crate::dump_mm`]); the new state
//! and the counts go back into [`LiveArgs`].

use kernel::error::code;
use kernel::prelude::*;
use kernel::uaccess::UserSlice;

use crate::dump_files::TreeFiles;
use crate::dump_mm;
use crate::dump_signals::TreeSignals;
use crate::dump_task;
use crate::error::Fail;
use crate::image_out::{ImageOut, OutFile};
use crate::live;
use crate::pid::PidNamespace;
use crate::task::{self, TaskExt};
use crate::uapi::{CheckpointArgs, LiveArgs, CKPT_FINAL, CKPT_ROUND};

/// Most tasks (threads included) one checkpoint takes.
pub(crate) const MAX_TASKS: usize = 4096;

/// The `checkpoint` operation. A refusal's message (naming the task, the
/// fd and what it is) goes to the caller's buffer, if it gave one.
///
/// `live` (checked by the caller) is set with `CKPT_ROUND` or
/// `CKPT_FINAL`, and only then.
pub(crate) fn checkpoint(args: &CheckpointArgs, live: Option<&mut LiveArgs>) -> Result<isize> {
    let mut why: Option<Fail> = None;
    let r = match live {
        Some(l) if args.flags & CKPT_ROUND != 0 => {
            live::round(args, l).map_err(|f| keep(&mut why, f))
        }
        Some(l) if args.flags & CKPT_FINAL != 0 => run(args, Some(l), &mut why),
        None if args.flags & (CKPT_ROUND | CKPT_FINAL) == 0 => run(args, None, &mut why),
        _ => Err(code::EINVAL),
    };
    if let (Err(_), Some(f)) = (&r, why.as_ref()) {
        report(args, f);
    }
    r.map(|()| 0)
}

/// Keeps `f`'s message for the caller unless it only names its errno; its
/// error for `?`.
pub(crate) fn keep(why: &mut Option<Fail>, f: Fail) -> Error {
    let err = f.err;
    let bare = Fail::errno(err, "restart");
    if f.msg.as_bytes() != bare.msg.as_bytes() {
        *why = Some(f);
    }
    err
}

fn run(args: &CheckpointArgs, live: Option<&mut LiveArgs>, why: &mut Option<Fail>) -> Result {
    let file = OutFile::get(args.fd)?;
    // The final call's sources, checked before the tree is looked at.
    let srcs = match live.as_deref() {
        Some(l) => Some(live::copy_srcs(l, CKPT_FINAL).map_err(|f| keep(why, f))?),
        None => None,
    };
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
    let (mms, mm_ids, owners) = dump_mm::collect(&tasks, &order)?;
    // Which address space each source with rounds names.
    let live_mms = match srcs {
        Some(s) => live::assign(s, &tasks, &mms).map_err(|f| keep(why, f))?,
        None => KVec::new(),
    };
    // Writing the image into a file the tree maps would change its memory.
    for mm in mms.iter() {
        if mm.mmap_read_lock_killable()?.maps_file(file.file()) {
            pr_info!("cptrst: checkpoint: the image file is mapped by the tree\n");
            return Err(code::ETXTBSY);
        }
    }
    // The pre-pass: every open file, fd table and fs context, and the
    // files of memfd and deleted-file mappings, classified before a byte
    // of the image is written.
    let mut files = TreeFiles::collect(&tasks, &infos, &order).map_err(|f| keep(why, f))?;
    let maps = dump_mm::collect_map_files(&mms, &owners, &tasks, &infos, &order, &mut files)
        .map_err(|f| keep(why, f))?;
    files.settle_pipes().map_err(|f| keep(why, f))?;
    // Credentials, signal state, limits and timers, read and checked
    // before anything is written too.
    let sigs = TreeSignals::collect(&tasks, &infos, &order, &ns).map_err(|f| keep(why, f))?;

    let mut out = match live.as_deref() {
        // The final call continues the rounds' stream: no header.
        Some(l) => ImageOut::resume(file, l.offset, l.records, l.crc)?,
        None => {
            let mut out = ImageOut::new(file)?;
            out.header()?;
            out
        }
    };
    // A final call continues a stream past its header (LiveArgs::check).
    if out.at_start() {
        return Err(code::EINVAL);
    }
    dump_task::write_tree(&mut out, &infos, &order, &mm_ids)?;
    files.write_files(&mut out)?;
    let mut xstate = KVVec::from_elem(0u8, out.xstate_size(), GFP_KERNEL)?;
    for (index, &k) in order.iter().enumerate() {
        let index = u32::try_from(index).map_err(|_| code::E2BIG)?;
        dump_task::write_task(
            &mut out,
            index,
            &tasks[k],
            &infos[k],
            &mut xstate,
            &files,
            &sigs,
        )?;
    }
    dump_mm::write_mms(&mut out, &mms, &maps, &live_mms)?;
    // The tree must not have moved while it was read.
    for t in tasks.iter() {
        t.check_dump()?;
    }
    let st = out.finish()?;
    if let Some(l) = live {
        live::report_state(l, &st);
    }
    Ok(())
}

/// Writes the message of `f` into the caller's buffer, if it gave one
/// (`msg_len` is at most `RST_MSG_MAX`, checked with the arguments).
fn report(args: &CheckpointArgs, f: &Fail) {
    if args.msg == 0 || args.msg_len == 0 {
        return;
    }
    let text = f.msg.as_bytes();
    let n = text.len().min(args.msg_len as usize - 1);
    let mut buf = [0u8; 256];
    let n = n.min(buf.len() - 1);
    buf[..n].copy_from_slice(&text[..n]);
    // A bad buffer loses the message, not the errno.
    let _ = UserSlice::new(args.msg as usize, n + 1)
        .writer()
        .write_slice(&buf[..n + 1]);
}
