//! eclone: create a child with chosen pids in nested pid namespaces.
//!
//! The Rust face of the C library `lib/cptrst_eclone.c` (one
//! implementation for C and Rust users): the module validates and
//! authorizes the v13 request, `clone3()` with `set_tid` creates the task.

use std::io;

pub use cptrst_uapi::CloneArgs;

extern "C" {
    fn eclone(flags_low: u32, cargs: *mut CloneArgs, args_size: i32, pids: *mut i32) -> i32;
    fn eclone_set_device_fd(fd: i32) -> i32;
    fn eclone_fn(
        f: extern "C" fn(*mut libc::c_void) -> i32,
        arg: *mut libc::c_void,
        flags_low: u32,
        cargs: *mut CloneArgs,
        args_size: i32,
        pids: *mut i32,
    ) -> i32;
}

/// Makes the library use `fd` as its `/dev/cptrst` (it opens its own on
/// first use otherwise, and keeps it open); -1 forgets it. Returns the fd
/// it used before (-1 for none: closing that one is the caller's business).
pub fn set_device_fd(fd: i32) -> i32 {
    // SAFETY: the library only stores the number.
    unsafe { eclone_set_device_fd(fd) }
}

/// Which side of an [`eclone_fork`] this is.
#[derive(Debug, PartialEq, Eq)]
pub enum Forked {
    /// The parent, with the child's pid in the caller's namespace.
    Parent(i32),
    /// The child.
    Child,
}

/// Fork-like eclone: `pids` lists the chosen pids outermost namespace
/// first, the last one being the child's pid in its own namespace.
///
/// # Safety
/// As for `fork()`: in a multi-threaded program the child may only call
/// async-signal-safe functions until it execs or exits.
pub unsafe fn eclone_fork(flags_low: u32, pids: &[i32]) -> io::Result<Forked> {
    let mut pids = pids.to_vec();
    let mut cargs = CloneArgs { nr_pids: pids.len() as u32, ..Default::default() };
    // SAFETY: `cargs` and `pids` are live and sized as `nr_pids` says; the
    // library reads them and writes nothing through them.
    let r = unsafe {
        eclone(flags_low, &mut cargs, std::mem::size_of::<CloneArgs>() as i32, pids.as_mut_ptr())
    };
    match r {
        r if r < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// eclone of a child that runs `f(arg)` on its own stack (`stack_top`, 16-byte
/// aligned) and exits with its result: for `CLONE_VM`/`CLONE_THREAD`
/// children. Returns the child's pid in the caller's namespace. Allocates
/// nothing: at most [`cptrst_uapi::MAX_PID_NS_LEVEL`] pids.
///
/// # Safety
/// `f` runs in a task sharing (or copying) the caller's memory, with the
/// caller's TLS: it may only make raw system calls, and `arg` and the stack
/// must stay valid as long as it uses them.
pub unsafe fn eclone_on_stack(
    f: extern "C" fn(*mut libc::c_void) -> i32,
    arg: *mut libc::c_void,
    flags_low: u32,
    stack_top: u64,
    pids: &[i32],
) -> io::Result<i32> {
    let mut buf = [0i32; cptrst_uapi::MAX_PID_NS_LEVEL as usize];
    let n = pids.len().min(buf.len());
    buf[..n].copy_from_slice(&pids[..n]);
    let mut cargs = CloneArgs { nr_pids: n as u32, child_stack: stack_top, ..Default::default() };
    // SAFETY: `cargs` and `buf` are live and sized as `nr_pids` says; the
    // caller vouches for `f`, `arg` and the stack.
    let r = unsafe { eclone_fn(f, arg, flags_low, &mut cargs, std::mem::size_of::<CloneArgs>() as i32, buf.as_mut_ptr()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}
