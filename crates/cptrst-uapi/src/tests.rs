//! Host tests of the ABI mirror: layouts against the C header, and the
//! command decoding rules.
extern crate std;
use super::*;
use std::string::String;

/// Compiles a C program against include/uapi/linux/cptrst.h that prints
/// sizeof/offsetof of every field and the command numbers.
fn c_layout() -> String {
    let top = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let src = r#"
#include <stdio.h>
#include <stddef.h>
#include <linux/cptrst.h>
#define F(s, f) printf(#s "." #f " %zu %zu\n", offsetof(struct s, f), sizeof(((struct s *)0)->f));
int main(void) {
  printf("sizes %zu %zu %zu %zu\n", sizeof(struct cptrst_checkpoint_args), sizeof(struct cptrst_restart_args),
         sizeof(struct cptrst_clone_args), sizeof(struct cptrst_eclone_args));
  printf("cmds %lx %lx %lx\n", (unsigned long)CPTRST_IOC_CHECKPOINT, (unsigned long)CPTRST_IOC_RESTART,
         (unsigned long)CPTRST_IOC_ECLONE);
  F(cptrst_checkpoint_args, pid) F(cptrst_checkpoint_args, fd) F(cptrst_checkpoint_args, flags)
  F(cptrst_checkpoint_args, msg_len) F(cptrst_checkpoint_args, msg) F(cptrst_checkpoint_args, live)
  F(cptrst_checkpoint_args, reserved)
  printf("live %zu %zu %x %x %x %x\n", sizeof(struct cptrst_live_args), sizeof(struct cptrst_live_src),
         CPTRST_CKPT_ROUND, CPTRST_CKPT_FINAL, CPTRST_LIVE_MAX_SRCS, CPTRST_LIVE_MAX_RANGES);
  F(cptrst_live_args, offset) F(cptrst_live_args, records) F(cptrst_live_args, crc) F(cptrst_live_args, round)
  F(cptrst_live_args, nr_srcs) F(cptrst_live_args, pad) F(cptrst_live_args, srcs) F(cptrst_live_args, pages)
  F(cptrst_live_args, prev_pages) F(cptrst_live_args, reserved)
  F(cptrst_live_src, pid) F(cptrst_live_src, src) F(cptrst_live_src, nr_ranges) F(cptrst_live_src, pad)
  F(cptrst_live_src, ranges)
  F(cptrst_restart_args, ctid) F(cptrst_restart_args, fd) F(cptrst_restart_args, flags)
  F(cptrst_restart_args, msg_len) F(cptrst_restart_args, msg) F(cptrst_restart_args, files)
  F(cptrst_restart_args, nfiles) F(cptrst_restart_args, pad) F(cptrst_restart_args, reserved)
  printf("flags %x %x %x %x %x %x\n", CPTRST_RESTART_COORD, CPTRST_RESTART_SKIP_FILES, CPTRST_RESTART_RESUME,
         CPTRST_RESTART_FILE_CHANGED_OK, CPTRST_RESTART_AS_INVOKER, CPTRST_RESTART_MAX_FILES);
  F(cptrst_clone_args, clone_flags_high) F(cptrst_clone_args, child_stack) F(cptrst_clone_args, child_stack_size)
  F(cptrst_clone_args, parent_tid_ptr) F(cptrst_clone_args, child_tid_ptr) F(cptrst_clone_args, nr_pids)
  F(cptrst_clone_args, reserved0)
  F(cptrst_eclone_args, flags_low) F(cptrst_eclone_args, args_size) F(cptrst_eclone_args, cargs)
  F(cptrst_eclone_args, pids) F(cptrst_eclone_args, clone3_args) F(cptrst_eclone_args, set_tid)
  F(cptrst_eclone_args, reserved)
  return 0;
}
"#;
    let dir = std::env::temp_dir().join(std::format!("cptrst-uapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&c, src).unwrap();
    let st = std::process::Command::new("cc")
        .arg(std::format!("-I{top}/include/uapi"))
        .arg(&c)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("cc");
    assert!(st.success(), "compiling the layout probe failed");
    let out = std::process::Command::new(&exe).output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    String::from_utf8(out.stdout).unwrap()
}

macro_rules! rust_field {
    ($out:ident, $cname:literal, $t:ty, $f:ident) => {{
        let v = <$t>::default();
        let off = core::mem::offset_of!($t, $f);
        let sz = core::mem::size_of_val(&v.$f);
        $out.push_str(&std::format!("{}.{} {} {}\n", $cname, stringify!($f), off, sz));
    }};
}

#[test]
fn layout_matches_c_header() {
    let mut want = String::new();
    want.push_str(&std::format!(
        "sizes {} {} {} {}\n",
        core::mem::size_of::<CheckpointArgs>(),
        core::mem::size_of::<RestartArgs>(),
        core::mem::size_of::<CloneArgs>(),
        core::mem::size_of::<EcloneArgs>()
    ));
    want.push_str(&std::format!("cmds {:x} {:x} {:x}\n", IOC_CHECKPOINT, IOC_RESTART, IOC_ECLONE));
    rust_field!(want, "cptrst_checkpoint_args", CheckpointArgs, pid);
    rust_field!(want, "cptrst_checkpoint_args", CheckpointArgs, fd);
    rust_field!(want, "cptrst_checkpoint_args", CheckpointArgs, flags);
    rust_field!(want, "cptrst_checkpoint_args", CheckpointArgs, msg_len);
    rust_field!(want, "cptrst_checkpoint_args", CheckpointArgs, msg);
    rust_field!(want, "cptrst_checkpoint_args", CheckpointArgs, live);
    rust_field!(want, "cptrst_checkpoint_args", CheckpointArgs, reserved);
    want.push_str(&std::format!(
        "live {} {} {:x} {:x} {:x} {:x}\n",
        core::mem::size_of::<LiveArgs>(),
        core::mem::size_of::<LiveSrc>(),
        CKPT_ROUND,
        CKPT_FINAL,
        LIVE_MAX_SRCS,
        LIVE_MAX_RANGES
    ));
    rust_field!(want, "cptrst_live_args", LiveArgs, offset);
    rust_field!(want, "cptrst_live_args", LiveArgs, records);
    rust_field!(want, "cptrst_live_args", LiveArgs, crc);
    rust_field!(want, "cptrst_live_args", LiveArgs, round);
    rust_field!(want, "cptrst_live_args", LiveArgs, nr_srcs);
    rust_field!(want, "cptrst_live_args", LiveArgs, pad);
    rust_field!(want, "cptrst_live_args", LiveArgs, srcs);
    rust_field!(want, "cptrst_live_args", LiveArgs, pages);
    rust_field!(want, "cptrst_live_args", LiveArgs, prev_pages);
    rust_field!(want, "cptrst_live_args", LiveArgs, reserved);
    rust_field!(want, "cptrst_live_src", LiveSrc, pid);
    rust_field!(want, "cptrst_live_src", LiveSrc, src);
    rust_field!(want, "cptrst_live_src", LiveSrc, nr_ranges);
    rust_field!(want, "cptrst_live_src", LiveSrc, pad);
    rust_field!(want, "cptrst_live_src", LiveSrc, ranges);
    rust_field!(want, "cptrst_restart_args", RestartArgs, ctid);
    rust_field!(want, "cptrst_restart_args", RestartArgs, fd);
    rust_field!(want, "cptrst_restart_args", RestartArgs, flags);
    rust_field!(want, "cptrst_restart_args", RestartArgs, msg_len);
    rust_field!(want, "cptrst_restart_args", RestartArgs, msg);
    rust_field!(want, "cptrst_restart_args", RestartArgs, files);
    rust_field!(want, "cptrst_restart_args", RestartArgs, nfiles);
    rust_field!(want, "cptrst_restart_args", RestartArgs, pad);
    rust_field!(want, "cptrst_restart_args", RestartArgs, reserved);
    want.push_str(&std::format!(
        "flags {:x} {:x} {:x} {:x} {:x} {:x}\n",
        RST_COORD,
        RST_SKIP_FILES,
        RST_RESUME,
        RST_FILE_CHANGED_OK,
        RST_AS_INVOKER,
        RST_MAX_FILES
    ));
    rust_field!(want, "cptrst_clone_args", CloneArgs, clone_flags_high);
    rust_field!(want, "cptrst_clone_args", CloneArgs, child_stack);
    rust_field!(want, "cptrst_clone_args", CloneArgs, child_stack_size);
    rust_field!(want, "cptrst_clone_args", CloneArgs, parent_tid_ptr);
    rust_field!(want, "cptrst_clone_args", CloneArgs, child_tid_ptr);
    rust_field!(want, "cptrst_clone_args", CloneArgs, nr_pids);
    rust_field!(want, "cptrst_clone_args", CloneArgs, reserved0);
    rust_field!(want, "cptrst_eclone_args", EcloneArgs, flags_low);
    rust_field!(want, "cptrst_eclone_args", EcloneArgs, args_size);
    rust_field!(want, "cptrst_eclone_args", EcloneArgs, cargs);
    rust_field!(want, "cptrst_eclone_args", EcloneArgs, pids);
    rust_field!(want, "cptrst_eclone_args", EcloneArgs, clone3_args);
    rust_field!(want, "cptrst_eclone_args", EcloneArgs, set_tid);
    rust_field!(want, "cptrst_eclone_args", EcloneArgs, reserved);
    assert_eq!(c_layout(), want);
}

#[test]
fn decode_known_commands() {
    assert_eq!(decode_cmd(IOC_CHECKPOINT), Ok(Op::Checkpoint));
    assert_eq!(decode_cmd(IOC_RESTART), Ok(Op::Restart));
    assert_eq!(decode_cmd(IOC_ECLONE), Ok(Op::Eclone));
}

#[test]
fn decode_rejections() {
    // Unknown number with our magic, or another driver's magic: ENOTTY.
    assert_eq!(decode_cmd(iow(0, 48)), Err(CmdError::Unknown));
    assert_eq!(decode_cmd(iow(4, 48)), Err(CmdError::Unknown));
    assert_eq!(decode_cmd(IOC_CHECKPOINT ^ (1 << 8)), Err(CmdError::Unknown));
    assert_eq!(decode_cmd(0x5401 /* TCGETS */), Err(CmdError::Unknown));
    // Right number, wrong size or direction: EINVAL.
    assert_eq!(decode_cmd(iow(1, 40)), Err(CmdError::BadSize));
    assert_eq!(decode_cmd(iow(3, 48)), Err(CmdError::BadSize));
    let read_dir = (IOC_CHECKPOINT & !(3 << 30)) | (2 << 30);
    assert_eq!(decode_cmd(read_dir), Err(CmdError::BadSize));
}

#[test]
fn argument_checks() {
    let mut a = CheckpointArgs { pid: 1, fd: 3, ..Default::default() };
    assert_eq!(a.check(), Ok(()));
    a.flags = 1 << 2;
    assert_eq!(a.check(), Err(ArgError::UnknownFlags));
    a.flags = 0;
    a.reserved[1] = 1;
    assert_eq!(a.check(), Err(ArgError::NonZeroReserved));
    a.reserved[1] = 0;
    // A live call has its LiveArgs, any other none; ROUND and FINAL exclude
    // each other.
    for (flags, live, ok) in [
        (CKPT_ROUND, 0x1000, true),
        (CKPT_FINAL, 0x1000, true),
        (CKPT_ROUND, 0, false),
        (CKPT_FINAL, 0, false),
        (0, 0x1000, false),
        (CKPT_ROUND | CKPT_FINAL, 0x1000, false),
    ] {
        let b = CheckpointArgs { flags, live, ..a };
        assert_eq!(b.check().is_ok(), ok, "flags {flags:#x} live {live:#x}");
    }
    let l = LiveArgs { round: 1, nr_srcs: 1, srcs: 0x2000, ..Default::default() };
    assert_eq!(l.check(CKPT_ROUND), Ok(()));
    assert_eq!(LiveArgs { round: 0, ..l }.check(CKPT_ROUND), Err(ArgError::BadValue));
    assert_eq!(LiveArgs { offset: 128, ..l }.check(CKPT_ROUND), Err(ArgError::BadValue));
    assert_eq!(LiveArgs { offset: 128, records: 3, ..l }.check(CKPT_ROUND), Ok(()));
    assert_eq!(LiveArgs { offset: 130, records: 3, ..l }.check(CKPT_ROUND), Err(ArgError::BadValue));
    assert_eq!(LiveArgs { nr_srcs: 0, ..l }.check(CKPT_ROUND), Err(ArgError::BadValue));
    assert_eq!(LiveArgs { nr_srcs: LIVE_MAX_SRCS + 1, ..l }.check(CKPT_ROUND), Err(ArgError::BadValue));
    assert_eq!(LiveArgs { pad: 1, ..l }.check(CKPT_ROUND), Err(ArgError::NonZeroReserved));
    assert_eq!(LiveArgs { round: 0, offset: 128, records: 3, ..l }.check(CKPT_FINAL), Ok(()));
    assert_eq!(LiveArgs { round: 0, ..l }.check(CKPT_FINAL), Err(ArgError::BadValue));
    let s = LiveSrc { pid: 5, src: 1, nr_ranges: 1, ranges: 0x3000, ..Default::default() };
    assert_eq!(s.check(CKPT_ROUND), Ok(()));
    assert_eq!(LiveSrc { src: 0, ..s }.check(CKPT_ROUND), Err(ArgError::BadValue));
    assert_eq!(LiveSrc { src: 0, ..s }.check(CKPT_FINAL), Ok(()));
    assert_eq!(LiveSrc { ranges: 0, ..s }.check(CKPT_FINAL), Err(ArgError::BadValue));
    assert_eq!(LiveSrc { nr_ranges: LIVE_MAX_RANGES + 1, ..s }.check(CKPT_FINAL), Err(ArgError::BadValue));
    assert_eq!(LiveSrc { pad: 1, ..s }.check(CKPT_FINAL), Err(ArgError::NonZeroReserved));
    // The message buffer: both or neither, at most RST_MSG_MAX bytes.
    a.msg_len = 64;
    assert_eq!(a.check(), Err(ArgError::BadValue));
    a.msg = 0x1000;
    assert_eq!(a.check(), Ok(()));
    a.msg_len = RST_MSG_MAX;
    assert_eq!(a.check(), Ok(()));
    a.msg_len = RST_MSG_MAX + 1;
    assert_eq!(a.check(), Err(ArgError::BadValue));
    a.msg_len = 0;
    assert_eq!(a.check(), Err(ArgError::BadValue));
    a.msg = 0;
    assert_eq!(a.check(), Ok(()));

    let mut r = RestartArgs::default();
    assert_eq!(r.check(), Ok(()));
    r.reserved[0] = 7;
    assert_eq!(r.check(), Err(ArgError::NonZeroReserved));
    r.reserved[0] = 0;
    r.flags = 0x8000_0000;
    assert_eq!(r.check(), Err(ArgError::UnknownFlags));
    r.flags = RST_COORD | RST_RESUME;
    assert_eq!(r.check(), Err(ArgError::UnknownFlags));
    r.flags = RST_COORD | RST_SKIP_FILES;
    assert_eq!(r.check(), Ok(()));
    r.msg_len = 64;
    assert_eq!(r.check(), Err(ArgError::BadValue));
    r.msg = 0x1000;
    assert_eq!(r.check(), Ok(()));
    r.msg_len = RST_MSG_MAX + 1;
    assert_eq!(r.check(), Err(ArgError::BadValue));
    r.msg_len = 64;
    r.flags = RST_COORD | RST_FILE_CHANGED_OK;
    assert_eq!(r.check(), Ok(()));
    // The file table: the coordinator's, both or neither, at most RST_MAX_FILES.
    r.files = 0x2000;
    assert_eq!(r.check(), Err(ArgError::BadValue));
    r.nfiles = 3;
    assert_eq!(r.check(), Ok(()));
    r.nfiles = RST_MAX_FILES;
    assert_eq!(r.check(), Ok(()));
    r.nfiles = RST_MAX_FILES + 1;
    assert_eq!(r.check(), Err(ArgError::BadValue));
    r.nfiles = 3;
    r.files = 0;
    assert_eq!(r.check(), Err(ArgError::BadValue));
    r.files = 0x2000;
    r.flags = 0;
    assert_eq!(r.check(), Err(ArgError::BadValue), "a participant passes no files");
    r.flags = RST_RESUME;
    assert_eq!(r.check(), Err(ArgError::BadValue));
    r.files = 0;
    r.nfiles = 0;
    assert_eq!(r.check(), Ok(()));
    r.pad = 1;
    assert_eq!(r.check(), Err(ArgError::NonZeroReserved));
    r.pad = 0;
    r.flags = RST_AS_INVOKER;
    assert_eq!(r.check(), Ok(()));
    r.flags = 1 << 5;
    assert_eq!(r.check(), Err(ArgError::UnknownFlags));

    let mut e = EcloneArgs::default();
    assert_eq!(e.check(), Ok(()));
    e.reserved[2] = 1;
    assert_eq!(e.check(), Err(ArgError::NonZeroReserved));
}

#[test]
fn clone3_args_match_linux_sched_h() {
    // struct clone_args of <linux/sched.h>, CLONE_ARGS_SIZE_VER2.
    assert_eq!(core::mem::size_of::<Clone3Args>(), 88);
    assert_eq!(core::mem::offset_of!(Clone3Args, flags), 0);
    assert_eq!(core::mem::offset_of!(Clone3Args, exit_signal), 32);
    assert_eq!(core::mem::offset_of!(Clone3Args, stack), 40);
    assert_eq!(core::mem::offset_of!(Clone3Args, set_tid), 64);
    assert_eq!(core::mem::offset_of!(Clone3Args, set_tid_size), 72);
    assert_eq!(core::mem::offset_of!(Clone3Args, cgroup), 80);
}

fn cargs(nr: u32) -> CloneArgs {
    CloneArgs { nr_pids: nr, ..Default::default() }
}

#[test]
fn eclone_check_accepts_and_rejects() {
    let sz = core::mem::size_of::<CloneArgs>() as i32;
    assert_eq!(eclone_check(17, sz, &cargs(2), &[300, 1]), Ok(()));
    assert_eq!(eclone_check(17, sz, &cargs(0), &[]), Ok(()));
    assert_eq!(eclone_check(17, sz - 8, &cargs(1), &[300]), Err(EcloneError::ArgsSize));
    assert_eq!(eclone_check(17, -1, &cargs(1), &[300]), Err(EcloneError::ArgsSize));
    let mut c = cargs(1);
    c.reserved0 = 1;
    assert_eq!(eclone_check(17, sz, &c, &[300]), Err(EcloneError::NonZeroField));
    let mut c = cargs(1);
    c.clone_flags_high = 1 << 3;
    assert_eq!(eclone_check(17, sz, &c, &[300]), Err(EcloneError::NonZeroField));
    let mut c = cargs(1);
    c.child_stack_size = 4096;
    assert_eq!(eclone_check(17, sz, &c, &[300]), Err(EcloneError::NonZeroField));
    assert_eq!(eclone_check(17 | CLONE_SETTLS, sz, &cargs(1), &[300]), Err(EcloneError::Flags));
    assert_eq!(eclone_check(17 | CLONE_PIDFD, sz, &cargs(1), &[300]), Err(EcloneError::Flags));
    assert_eq!(eclone_check(17, sz, &cargs(33), &[1; 33]), Err(EcloneError::TooManyPids));
    assert_eq!(eclone_check(17, sz, &cargs(2), &[1]), Err(EcloneError::TooManyPids));
    assert_eq!(eclone_check(17, sz, &cargs(1), &[0]), Err(EcloneError::PidRange));
    assert_eq!(eclone_check(17, sz, &cargs(1), &[-3]), Err(EcloneError::PidRange));
    assert_eq!(eclone_check(17, sz, &cargs(1), &[PID_MAX_LIMIT]), Err(EcloneError::PidRange));
}

#[test]
fn eclone_translation() {
    let c = CloneArgs {
        child_stack: 0x7000_1000,
        parent_tid_ptr: 0x1000,
        child_tid_ptr: 0x2000,
        nr_pids: 3,
        ..Default::default()
    };
    let a = eclone_to_clone3(CLONE_VM | CLONE_THREAD | 17, &c, 0xabc0);
    assert_eq!(a.flags, (CLONE_VM | CLONE_THREAD) as u64);
    assert_eq!(a.exit_signal, 17);
    // The child starts at sp = stack + stack_size = child_stack.
    assert_eq!(a.stack + a.stack_size, 0x7000_1000);
    assert!(a.stack_size > 0);
    assert_eq!((a.parent_tid, a.child_tid), (0x1000, 0x2000));
    assert_eq!((a.set_tid, a.set_tid_size), (0xabc0, 3));
    assert_eq!((a.tls, a.pidfd, a.cgroup), (0, 0, 0));
    // No stack: the parent's; no pids: no set_tid.
    let a = eclone_to_clone3(17, &cargs(0), 0xabc0);
    assert_eq!((a.stack, a.stack_size, a.set_tid, a.set_tid_size), (0, 0, 0, 0));
}

#[test]
fn pids_are_reversed_for_clone3() {
    let mut out = [0; 3];
    set_tid_order(&[300, 20, 1], &mut out);
    assert_eq!(out, [1, 20, 300]);
}
