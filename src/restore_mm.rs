// SPDX-License-Identifier: GPL-2.0
//! Restart, the address space of the restored task (current): the restore
//! trampoline (mapped in a hole of the image's layout, one parameter page
//! per task of the mm), and pass 2: every VMA of the plan mapped at its
//! final protection, every run of pages read from the image at the offset
//! pass 1 recorded and written in.

use core::mem::{offset_of, size_of};

use kernel::error::code;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::types::{ARef, AsBytes};
use kernel::uaccess::UserSlice;

use crate::error::{fail, Fail};
use crate::file::{DevFile, File};
use crate::image::regs as reg;
use crate::image::{self, VmaKind};
use crate::image_in::InFile;
use crate::mm::mman::{
    MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED,
};
use crate::mm::{self as rmm, Special};
use crate::restore_plan::{MmPlan, Plan, RunPlan, TaskPlan, VmaPlan};
use crate::signal;
use crate::task::CurrentTask;
use crate::uapi::{RestartArgs, RST_RESUME};

const PAGE: u64 = PAGE_SIZE as u64;

/// Size of the buffer page data goes through.
const CHUNK: usize = 1 << 20;

/// The trampoline's parameter block (`struct cptrst_tramp_params`, whose
/// `CPTRST_TP_*` offsets the trampoline's assembly in cptrst_restore.c
/// uses), at the start of each task's area of the mapping (followed by its
/// restore program, [`crate::restore_prog`]); the task's stack pointer
/// points at it.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct TrampParams {
    pub(crate) step: u64,
    pub(crate) err: u64,
    pub(crate) devfd: u64,
    pub(crate) vvar_cur: u64,
    pub(crate) vvar_park: u64,
    pub(crate) vvar_img: u64,
    pub(crate) vvar_len: u64,
    pub(crate) vdso_cur: u64,
    pub(crate) vdso_park: u64,
    pub(crate) vdso_img: u64,
    pub(crate) vdso_len: u64,
    pub(crate) exefd: i64,
    pub(crate) fs_base: u64,
    pub(crate) gs_base: u64,
    pub(crate) args: RestartArgs,
    pub(crate) cmd: u64,
    /// The restore program: its ops and their number.
    pub(crate) prog: u64,
    pub(crate) nops: u64,
    /// Set by the trampoline: the op that failed, its first argument then.
    pub(crate) op_index: u64,
    pub(crate) op_arg0: u64,
}
// The CPTRST_TP_* offsets of include/cptrst_abi.h.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(offset_of!(TrampParams, step) == 0);
    assert!(offset_of!(TrampParams, err) == 8);
    assert!(offset_of!(TrampParams, devfd) == 16);
    assert!(offset_of!(TrampParams, vvar_cur) == 24);
    assert!(offset_of!(TrampParams, vvar_park) == 32);
    assert!(offset_of!(TrampParams, vvar_img) == 40);
    assert!(offset_of!(TrampParams, vvar_len) == 48);
    assert!(offset_of!(TrampParams, vdso_cur) == 56);
    assert!(offset_of!(TrampParams, vdso_park) == 64);
    assert!(offset_of!(TrampParams, vdso_img) == 72);
    assert!(offset_of!(TrampParams, vdso_len) == 80);
    assert!(offset_of!(TrampParams, exefd) == 88);
    assert!(offset_of!(TrampParams, fs_base) == 96);
    assert!(offset_of!(TrampParams, gs_base) == 104);
    assert!(offset_of!(TrampParams, args) == 112);
    assert!(offset_of!(TrampParams, cmd) == 160);
    assert!(offset_of!(TrampParams, prog) == 168);
    assert!(offset_of!(TrampParams, nops) == 176);
    assert!(offset_of!(TrampParams, op_index) == 184);
    assert!(offset_of!(TrampParams, op_arg0) == 192);
    assert!(size_of::<TrampParams>() == 200);
    // `RestartArgs` has no padding: its fields fill its 48 bytes.
    assert!(size_of::<RestartArgs>() == 4 * 4 + 8 + 3 * 8);
};

// SAFETY: `repr(C)`, made of integers only (`RestartArgs` too: integers and
// an integer array), and without padding: the offsets above place every
// field right after the previous one, up to the asserted size, and
// `RestartArgs`'s fields fill its size. No interior mutability.
unsafe impl AsBytes for TrampParams {}

impl TrampParams {
    /// A parameter block for `t`, its fs/gs bases, the restart call, no
    /// vDSO move (the mm's owner adds those), no exe link.
    pub(crate) fn for_task(t: &TaskPlan, devfd: i32) -> TrampParams {
        let regs = t.regs.map_or([0; reg::COUNT], |r| *r.get());
        TrampParams {
            devfd: devfd as u64,
            exefd: -1,
            fs_base: regs[reg::FS_BASE],
            gs_base: regs[reg::GS_BASE],
            args: RestartArgs {
                ctid: 0,
                fd: -1,
                flags: RST_RESUME,
                ..Default::default()
            },
            cmd: u64::from(crate::uapi::IOC_RESTART),
            ..Default::default()
        }
    }

    /// Writes the block to its page.
    pub(crate) fn store(&self, page: u64) -> Result<(), Fail> {
        let page = usize::try_from(page).map_err(|_| code::EFAULT)?;
        UserSlice::new(page, size_of::<TrampParams>())
            .writer()
            .write(self)
            .map_err(|e| {
                fail!(
                    e,
                    "writing the trampoline's parameters: error {}",
                    e.to_errno()
                )
            })
    }

    /// Sets the exe fd in the block at `page`: the trampoline links it.
    fn store_exefd(page: u64, fd: i32) -> Result<(), Fail> {
        let at = usize::try_from(page).map_err(|_| code::EFAULT)? + offset_of!(TrampParams, exefd);
        UserSlice::new(at, size_of::<i64>())
            .writer()
            .write(&i64::from(fd))?;
        Ok(())
    }

    /// Sets the restore program in the block at `page`.
    pub(crate) fn store_prog(page: u64, prog: u64, nops: u64) -> Result<(), Fail> {
        let at = usize::try_from(page).map_err(|_| code::EFAULT)? + offset_of!(TrampParams, prog);
        UserSlice::new(at, 16).writer().write(&[prog, nops])?;
        Ok(())
    }

    /// The failure the trampoline reported in the block at `page` of task
    /// `t`, if any.
    pub(crate) fn check(page: u64, t: &TaskPlan) -> Result<(), Fail> {
        let page = usize::try_from(page).map_err(|_| code::EFAULT)?;
        let [step, err] = UserSlice::new(page, 16).reader().read::<[u64; 2]>()?;
        if step == 0 {
            return Ok(());
        }
        if step == 8 {
            let at = page + offset_of!(TrampParams, prog);
            let [prog, nops, index, arg0] = UserSlice::new(at, 32).reader().read::<[u64; 4]>()?;
            return Err(crate::restore_prog::failure(
                t, prog, nops, index, arg0, err as i64,
            ));
        }
        let what = match step {
            1 | 3 => "moving [vvar]",
            2 | 4 => "moving [vdso]",
            6 => "setting the fs base",
            7 => "setting the gs base",
            _ => "an unknown step",
        };
        Err(fail!(
            code::EFAULT,
            "restore trampoline: {} failed: error {}",
            what,
            -(err as i64)
        ))
    }
}

/// The trampoline's machine code.
fn tramp_code() -> &'static [u8] {
    extern "C" {
        static cptrst_tramp_start: [u8; 0];
        static cptrst_tramp_end: [u8; 0];
    }
    // SAFETY: the two symbols delimit one byte array in .rodata, defined
    // in cptrst_restore.c, end after start; it lives as long as the module.
    unsafe {
        let start = cptrst_tramp_start.as_ptr();
        let end = cptrst_tramp_end.as_ptr();
        core::slice::from_raw_parts(start, (end as usize).saturating_sub(start as usize))
    }
}

/// The trampoline mapping of an mm.
#[derive(Clone, Copy, Default)]
pub(crate) struct Tramp {
    pub(crate) start: u64,
    pub(crate) len: u64,
}

impl Tramp {
    /// The area (parameter block, then restore program) of task `t`.
    pub(crate) fn page(&self, t: &TaskPlan) -> u64 {
        self.start + t.area_off
    }
}

/// A hole of `len` bytes in the image's layout `ranges` (ascending), away
/// from the `extra` ranges.
fn find_hole(ranges: &[(u64, u64)], extra: &[(u64, u64)], len: u64, top: u64) -> Option<u64> {
    let mut a: u64 = 0x10_0000;
    let mut i = 0;
    loop {
        let end = a.checked_add(len)?;
        if end > top {
            return None;
        }
        while i < ranges.len() && ranges[i].1 <= a {
            i += 1;
        }
        let mut next = None;
        if i < ranges.len() && ranges[i].0 < end {
            next = Some(ranges[i].1);
        }
        for &(s, e) in extra {
            if s < end && a < e {
                next = Some(next.map_or(e, |n: u64| n.max(e)));
            }
        }
        match next {
            None => return Some(a),
            Some(n) => a = (n + PAGE - 1) & !(PAGE - 1),
        }
    }
}

/// The mm's owner, first call: the point of no return. Unmaps everything
/// but [vdso] and [vvar], maps the trampoline (code, one area per task of
/// the mm for its parameters and restore program, parking room for [vvar]
/// and [vdso]) in a hole of the image's layout, and makes the call return
/// into it with the owner's parameters.
pub(crate) fn enter_owner(
    cur_task: &CurrentTask,
    mm: &MmPlan,
    owner: &TaskPlan,
    dev: &DevFile,
) -> Result<Tramp, Fail> {
    let cur: Special = rmm::special()?;
    let vdso_len = mm.vdso.1 - mm.vdso.0;
    let vvar_len = mm.vvar.1 - mm.vvar.0;
    if cur.vdso_end - cur.vdso_start != vdso_len || cur.vvar_end - cur.vvar_start != vvar_len {
        return Err(fail!(
            code::ENOEXEC,
            "the task's [vdso]/[vvar] differ in size from the image's"
        ));
    }
    let fixed = PAGE + mm.areas_len;
    let len = fixed + vvar_len + vdso_len;
    let extra = [
        (cur.vdso_start, cur.vdso_end),
        (cur.vvar_start, cur.vvar_end),
    ];
    let h = find_hole(&mm.ranges, &extra, len, crate::machine::task_size()).ok_or_else(|| {
        fail!(
            code::ENOMEM,
            "no room for the restore trampoline in the image's layout"
        )
    })?;
    let code = tramp_code();
    if code.len() > PAGE_SIZE {
        return Err(fail!(code::EINVAL, "trampoline too large"));
    }

    // The point of no return.
    signal::block_all(cur_task)?;
    crate::restore_creds::reset_altstack(cur_task);
    rmm::unmap_all()
        .map_err(|e| fail!(e, "unmapping the task's memory: error {}", e.to_errno()))?;
    rmm::mmap(None, h, len, 7, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0).map_err(|e| {
        fail!(
            e,
            "mapping the restore trampoline at {:#x}: error {}",
            h,
            e.to_errno()
        )
    })?;
    rmm::copy_to_user(h, code)?;
    let t = Tramp { start: h, len };
    let devfd = dev.install()?;
    let mut p = TrampParams::for_task(owner, devfd);
    p.vvar_cur = cur.vvar_start;
    p.vvar_park = h + fixed;
    p.vvar_img = mm.vvar.0;
    p.vvar_len = vvar_len;
    p.vdso_cur = cur.vdso_start;
    p.vdso_park = h + fixed + vvar_len;
    p.vdso_img = mm.vdso.0;
    p.vdso_len = vdso_len;
    p.store(t.page(owner))?;
    cur_task.set_ip_sp(h, t.page(owner));
    Ok(t)
}

/// Another task of the mm, first call: its parameters, and back into the
/// owner's trampoline.
pub(crate) fn enter_thread(
    cur_task: &CurrentTask,
    t: &Tramp,
    task: &TaskPlan,
    dev: &DevFile,
) -> Result<(), Fail> {
    signal::block_all(cur_task)?;
    crate::restore_creds::reset_altstack(cur_task);
    let devfd = dev.install()?;
    TrampParams::for_task(task, devfd).store(t.page(task))?;
    cur_task.set_ip_sp(t.start, t.page(task));
    Ok(())
}

/// Maps VMA `v` of the plan at its final protection.
fn map_vma(plan: &Plan, v: &VmaPlan) -> Result<(), Fail> {
    let len = v.end - v.start;
    let mut flags = MAP_FIXED;
    if v.flags & image::VMA_NORESERVE != 0 {
        flags |= MAP_NORESERVE;
    }
    let r = match v.kind {
        VmaKind::Vdso | VmaKind::Vvar => return Ok(()),
        VmaKind::AnonPrivate | VmaKind::Stack | VmaKind::Heap => {
            flags |= MAP_PRIVATE | MAP_ANONYMOUS;
            if v.flags & image::VMA_GROWSDOWN != 0 {
                flags |= MAP_GROWSDOWN;
            }
            rmm::mmap(None, v.start, len, v.prot, flags, 0)
        }
        VmaKind::FilePrivate | VmaKind::FileShared => {
            let f = plan.files.get(v.object).ok_or(code::EINVAL)?;
            let shared = if v.kind == VmaKind::FileShared {
                MAP_SHARED
            } else {
                MAP_PRIVATE
            };
            rmm::mmap(
                Some(f),
                v.start,
                len,
                v.prot,
                flags | shared,
                v.pgoff * PAGE,
            )
        }
        VmaKind::SharedAnon => {
            let f = shm_file(plan, v)?;
            rmm::mmap(
                Some(f),
                v.start,
                len,
                v.prot,
                flags | MAP_SHARED,
                v.pgoff * PAGE,
            )
        }
    };
    r.map_err(|e| {
        fail!(
            e,
            "VMA {:#x}-{:#x}: mapping it: error {}",
            v.start,
            v.end,
            e.to_errno()
        )
    })
}

/// The mm's owner, second call: pass 2 over its address space, then the
/// layout, auxv and (through the trampoline) the exe link.
pub(crate) fn map_mm(
    image: &InFile,
    plan: &Plan,
    mm: &MmPlan,
    t: &Tramp,
    owner: &TaskPlan,
) -> Result<(), Fail> {
    let mut buf = KVVec::from_elem(0u8, CHUNK, GFP_KERNEL)?;
    for v in mm.vmas.iter() {
        let (ts, te) = (t.start, t.start + t.len);
        if v.start < te && ts < v.end {
            return Err(fail!(
                code::EINVAL,
                "VMA {:#x}-{:#x}: overlaps the trampoline",
                v.start,
                v.end
            ));
        }
        if matches!(v.kind, VmaKind::Vdso | VmaKind::Vvar) {
            continue;
        }
        map_vma(plan, v)?;
        let runs = mm
            .runs
            .get(v.first_run..v.first_run + v.nr_runs)
            .unwrap_or(&[]);
        for run in runs {
            fill_run(image, plan, v, run, &mut buf)?;
        }
    }
    rmm::set_mm(&mm.layout, &mm.auxv).map_err(|e| {
        fail!(
            e,
            "MM (type 5) at offset {}: the kernel refused the layout or auxv: error {}",
            mm.off,
            e.to_errno()
        )
    })?;
    if let Some(exe) = mm.exe.and_then(|i| plan.files.get(i)) {
        let fd = exe.install()?;
        TrampParams::store_exefd(t.page(owner), fd)?;
    }
    Ok(())
}

/// Reads `run` from the image straight into the caller's memory: false
/// if the image's file system cannot (no `->read_iter`).
fn read_direct(image: &InFile, run: &RunPlan) -> Result<bool, Fail> {
    let len = usize::try_from(run.len).map_err(|_| code::EINVAL)?;
    match image.read_to_user(run.image_off, run.addr, len) {
        Ok(()) => Ok(true),
        // A file system without ->read_iter: through the buffer.
        Err(e) if e == crate::error::eopnotsupp() => Ok(false),
        Err(e) if e.to_errno() == -(kernel::bindings::ENODATA as i32) => Err(fail!(
            e,
            "{}: the image is shorter than when it was checked",
            run.what()
        )),
        Err(e) => Err(fail!(
            e,
            "{}: reading into {:#x}: error {}",
            run.what(),
            run.addr,
            e.to_errno()
        )),
    }
}

/// Reads one run of pages from the image and writes it into place:
/// straight from the image into writable private memory (one copy), else
/// through `buf`.
fn fill_run(
    image: &InFile,
    plan: &Plan,
    v: &VmaPlan,
    run: &RunPlan,
    buf: &mut [u8],
) -> Result<(), Fail> {
    // Straight into a writable private mapping, if the file system can.
    if v.kind != VmaKind::SharedAnon && v.prot & image::PROT_WRITE != 0 && read_direct(image, run)?
    {
        return Ok(());
    }
    let mut done = 0u64;
    while done < run.len {
        let n = ((run.len - done) as usize).min(buf.len());
        let chunk = buf.get_mut(..n).ok_or(code::EINVAL)?;
        let got = image.read_at(run.image_off + done, chunk).map_err(|e| {
            fail!(
                e,
                "{}: reading {:#x}: error {}",
                run.what(),
                run.image_off + done,
                e.to_errno()
            )
        })?;
        if got != n {
            return Err(fail!(
                code::EINVAL,
                "{}: the image is shorter than when it was checked",
                run.what()
            ));
        }
        let addr = run.addr + done;
        write_chunk(plan, v, addr, chunk).map_err(|e| {
            fail!(
                e,
                "{}: writing {:#x}: error {}",
                run.what(),
                addr,
                e.to_errno()
            )
        })?;
        done += n as u64;
    }
    Ok(())
}

/// The shared memory object of the shared anonymous VMA `v`.
fn shm_file<'a>(plan: &'a Plan, v: &VmaPlan) -> Result<&'a ARef<File>> {
    plan.shms
        .get(v.object)
        .and_then(|s| s.file.as_ref())
        .ok_or(code::EINVAL)
}

/// Writes `chunk` of VMA `v`'s pages at `addr`: into its shmem object, or
/// into the caller's memory (forced past a missing write permission).
fn write_chunk(plan: &Plan, v: &VmaPlan, addr: u64, chunk: &[u8]) -> Result {
    match v.kind {
        VmaKind::SharedAnon => {
            let f = shm_file(plan, v)?;
            f.write_at(v.pgoff * PAGE + (addr - v.start), chunk)
        }
        _ if v.prot & image::PROT_WRITE != 0 => rmm::copy_to_user(addr, chunk),
        _ => rmm::write_force(addr, chunk),
    }
}

/// Call 3's part of the address space: the vDSO must be where the image
/// had it; the last task of the address space (`last`) unmaps the
/// trampoline.
pub(crate) fn finish(mm: &MmPlan, tramp: &Tramp, last: bool) -> Result<(), Fail> {
    if !rmm::vdso_is(mm.vdso.0) {
        return Err(fail!(
            code::EFAULT,
            "VMA: the vDSO is not at the image's address {:#x}",
            mm.vdso.0
        ));
    }
    if last {
        rmm::munmap(tramp.start, tramp.len)?;
    }
    Ok(())
}
