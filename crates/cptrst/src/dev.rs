//! `/dev/cptrst`: opening it and issuing the ioctls of `cptrst-uapi`.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use cptrst_uapi as uapi;

/// An open `/dev/cptrst`.
pub struct Dev(File);

impl Dev {
    /// Opens the device; the error says what to do when it is missing.
    pub fn open() -> Result<Dev, crate::Failure> {
        match std::fs::OpenOptions::new().read(true).write(true).open(uapi::DEVICE) {
            Ok(f) => Ok(Dev(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(crate::Failure::op(format!(
                "{}: not found (is the cptrst module loaded? try `insmod cptrst.ko`)",
                uapi::DEVICE
            ))),
            Err(e) => Err(crate::Failure::os(uapi::DEVICE, e)),
        }
    }

    fn ioctl<T>(&self, cmd: u32, arg: &T) -> io::Result<i64> {
        // SAFETY: `cmd` is one of the module's `_IOW` commands whose size is
        // `size_of::<T>()` (checked by `decode_cmd` in the callers' types);
        // the kernel only reads `size_of::<T>()` bytes from `arg`.
        let r = unsafe { libc::ioctl(self.0.as_raw_fd(), cmd as libc::c_ulong, arg as *const T) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as i64)
        }
    }

    /// The device's fd (for a restarting child, which calls the ioctl raw).
    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }

    /// `restart(ctid, fd, flags)`, with the error-message buffer `a.msg`
    /// (the kernel writes there through the pointer).
    pub fn restart(&self, a: &uapi::RestartArgs) -> io::Result<()> {
        self.ioctl(uapi::IOC_RESTART, a).map(|_| ())
    }

    /// `checkpoint(pid, fd, flags)`.
    pub fn checkpoint(&self, pid: i32, fd: i32, flags: u32) -> io::Result<()> {
        let a = uapi::CheckpointArgs { pid, fd, flags, ..Default::default() };
        self.ioctl(uapi::IOC_CHECKPOINT, &a).map(|_| ())
    }
}
