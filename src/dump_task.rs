// SPDX-License-Identifier: GPL-2.0
//! Dump code for tasks: ids and state (the tree), credentials, signal mask,
//! general registers, FPU/xstate, the fd table (the FDS record that
//! [`crate::dump_files`] prepared), thread state, and the CREDS, SIGNALS
//! and PROCESS records that [`crate::dump_signals`] prepared. Read-only on the
//! tasks, which it reads through [`TaskExt`].

use kernel::error::code;
use kernel::prelude::*;

use crate::dump_files::TreeFiles;
use crate::dump_signals::TreeSignals;
use crate::image;
use crate::image::regs;
use crate::image_out::ImageOut;
use crate::pid::PidNamespace;
use crate::signal::UNBLOCKABLE;
use crate::task::{Task, TaskExt, TaskInfo, TI_LEADER};
use kernel::types::ARef;

/// Ids and state of every task, in the order of `tasks`.
pub(crate) fn collect_infos(tasks: &[ARef<Task>], ns: &PidNamespace) -> Result<KVec<TaskInfo>> {
    let mut infos = KVec::with_capacity(tasks.len(), GFP_KERNEL)?;
    for t in tasks {
        infos.push(t.info(ns)?, GFP_KERNEL)?;
    }
    Ok(infos)
}

const ERESTARTSYS: i64 = 512;
const ERESTARTNOINTR: i64 = 513;
const ERESTARTNOHAND: i64 = 514;
const ERESTART_RESTARTBLOCK: i64 = 516;
const EINTR: i64 = 4;

/// Normalizes the registers of a task stopped inside a system call, so that
/// resuming them in user mode does what the kernel would have done on the
/// way out without a signal handler: the `-ERESTART*` codes are internal.
///
/// - `ERESTARTSYS`, `ERESTARTNOINTR`, `ERESTARTNOHAND`: the syscall is
///   restarted: `ax = orig_ax`, `ip -= 2` (back onto the `syscall` insn);
/// - `ERESTART_RESTARTBLOCK` (`nanosleep`, `clock_nanosleep`, ...): its
///   restart block is kernel state that a restart cannot rebuild, so the
///   call returns `EINTR`, as CRIU does; `nanosleep` has already written the
///   remaining time.
/// - `orig_ax = -1` afterwards: no restart processing is left to do.
pub(crate) fn normalize_syscall_restart(r: &mut [u64; regs::COUNT]) {
    if (r[regs::ORIG_AX] as i64) < 0 {
        return;
    }
    match -(r[regs::AX] as i64) {
        ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => {
            r[regs::AX] = r[regs::ORIG_AX];
            r[regs::IP] = r[regs::IP].wrapping_sub(2);
        }
        ERESTART_RESTARTBLOCK => r[regs::AX] = (-EINTR) as u64,
        _ => {}
    }
    r[regs::ORIG_AX] = u64::MAX;
}

/// Reads the general registers of `t`, normalized.
pub(crate) fn regs_of(t: &Task) -> Result<[u64; regs::COUNT]> {
    let mut raw = [0u8; regs::COUNT * 8];
    t.regs(&mut raw)?;
    let mut r = [0u64; regs::COUNT];
    for (i, w) in r.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
        *w = u64::from_ne_bytes(b);
    }
    normalize_syscall_restart(&mut r);
    Ok(r)
}

/// The tree order: the root's thread group first, then breadth first each
/// process's children, every leader followed by its threads (the format
/// wants parents before children and threads after their leader).
///
/// # Errors
/// `EINVAL` if a task is not reachable from the root through its parents.
pub(crate) fn tree_order(infos: &[TaskInfo], root_tgid: i32) -> Result<KVec<usize>> {
    let n = infos.len();
    let mut order: KVec<usize> = KVec::with_capacity(n, GFP_KERNEL)?;
    let mut placed: KVec<bool> = KVec::from_elem(false, n, GFP_KERNEL)?;
    let is_leader = |i: &TaskInfo| i.flags & TI_LEADER != 0;
    // Adds the thread group `tgid`: its leader, then its other threads.
    let add_group = |order: &mut KVec<usize>, placed: &mut KVec<bool>, tgid: i32| -> Result {
        for pass_leader in [true, false] {
            for (k, i) in infos.iter().enumerate() {
                if !placed[k] && i.tgid == tgid && is_leader(i) == pass_leader {
                    placed[k] = true;
                    order.push(k, GFP_KERNEL)?;
                }
            }
        }
        Ok(())
    };
    add_group(&mut order, &mut placed, root_tgid)?;
    let mut next = 0;
    while next < order.len() {
        let parent = &infos[order[next]];
        next += 1;
        if !is_leader(parent) {
            continue;
        }
        for k in 0..n {
            let c = &infos[k];
            if !placed[k] && is_leader(c) && c.ppid == parent.tgid && c.tgid != parent.tgid {
                add_group(&mut order, &mut placed, c.tgid)?;
            }
        }
    }
    if order.len() != n {
        pr_info!(
            "cptrst: checkpoint: {} task(s) of the tree have no parent in it\n",
            n - order.len()
        );
        return Err(code::EINVAL);
    }
    Ok(order)
}

fn pids_of(i: &TaskInfo) -> [u32; image::MAX_PID_LEVELS] {
    let mut p = [0u32; image::MAX_PID_LEVELS];
    let n = (i.nr_levels as usize).min(image::MAX_PID_LEVELS);
    for (d, s) in p.iter_mut().zip(i.pids.iter()).take(n) {
        *d = *s as u32;
    }
    p
}

/// The TREE entry of a task.
pub(crate) fn tree_entry(i: &TaskInfo, is_root: bool, mm_id: u32) -> image::TreeEntry {
    let mut flags = 0;
    if i.flags & TI_LEADER == 0 {
        flags |= image::TASK_THREAD;
    }
    if i.exit_state != 0 {
        flags |= image::TASK_ZOMBIE;
    }
    image::TreeEntry {
        flags,
        nr_levels: i.nr_levels,
        tgid: i.tgid as u32,
        ppid: if is_root { 0 } else { i.ppid as u32 },
        pgid: i.pgid as u32,
        sid: i.sid as u32,
        exit_code: i.exit_code as u32,
        exit_signal: if (0..=64).contains(&i.exit_signal) {
            i.exit_signal as u32
        } else {
            0
        },
        mm_id,
        pids: pids_of(i),
    }
}

/// Writes the TREE record: `order` indexes `infos`, `mm_ids` too.
pub(crate) fn write_tree(
    out: &mut ImageOut,
    infos: &[TaskInfo],
    order: &[usize],
    mm_ids: &[u32],
) -> Result {
    let count = u32::try_from(order.len()).map_err(|_| code::E2BIG)?;
    out.put(64, |e, b| e.tree_begin(count, b))?;
    for &k in order.iter() {
        // The root's thread group has no parent in the tree.
        let entry = tree_entry(&infos[k], infos[k].tgid == infos[order[0]].tgid, mm_ids[k]);
        out.put(image::TREE_ENTRY_LEN, |e, b| e.tree_entry(&entry, b))?;
    }
    Ok(())
}

/// Writes a task's TASK record, then for a live task its REGS, FPU, FDS
/// (a thread group leader's, from `files`), THREAD, CREDS and SIGNALS,
/// and a live leader's PROCESS (from `sigs`). `xstate` is scratch space
/// of the image's xstate size.
pub(crate) fn write_task(
    out: &mut ImageOut,
    index: u32,
    t: &Task,
    i: &TaskInfo,
    xstate: &mut [u8],
    files: &TreeFiles,
    sigs: &TreeSignals,
) -> Result {
    let rec = image::Task {
        index,
        pid: i.pids[0] as u32,
        comm: i.comm,
        uid: i.cred.uid,
        gid: i.cred.gid,
        euid: i.cred.euid,
        egid: i.cred.egid,
        suid: i.cred.suid,
        sgid: i.cred.sgid,
        fsuid: i.cred.fsuid,
        fsgid: i.cred.fsgid,
        personality: i.personality,
        blocked: i.blocked & !UNBLOCKABLE,
    };
    out.put(64 + image::TASK_PAYLOAD_LEN, |e, b| e.task(&rec, b))?;
    if i.exit_state != 0 {
        return Ok(());
    }
    let regs = image::Regs::from_array(regs_of(t)?);
    out.put(64 + image::REGS_PAYLOAD_LEN, |e, b| e.regs(&regs, b))?;
    t.xstate(xstate)?;
    out.put(64 + image::FPU_FIXED_LEN + xstate.len(), |e, b| {
        e.fpu(xstate, b)
    })?;
    files.write_fds(out, index as usize)?;
    let ts = t.thread_state();
    let th = image::Thread {
        clear_child_tid: ts.clear_child_tid,
        robust_list: ts.robust_list,
        robust_list_len: ts.robust_list_len,
        rseq: ts.rseq,
        rseq_len: ts.rseq_len,
        rseq_sig: ts.rseq_sig,
    };
    out.put(64 + image::THREAD_PAYLOAD_LEN, |e, b| e.thread(&th, b))?;
    sigs.write(out, index as usize)
}
