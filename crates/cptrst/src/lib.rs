//! The cptrst user-space library: the device, eclone, /proc, errors for the
//! user (and errno names for messages), and (in the tool) the commands
//! built on them.

pub mod dev;
pub mod eclone;
pub mod proc;

/// An error for the user: what failed, and the exit status to return.
#[derive(Debug)]
pub struct Failure {
    /// What failed, for a human.
    pub msg: String,
    /// Exit status: 2 for usage errors, 1 otherwise.
    pub status: u8,
}

impl Failure {
    /// A usage error (exit status 2).
    pub fn usage(msg: impl Into<String>) -> Self {
        Failure { msg: msg.into(), status: 2 }
    }
    /// An operation failed (exit status 1).
    pub fn op(msg: impl Into<String>) -> Self {
        Failure { msg: msg.into(), status: 1 }
    }
    /// An operation failed with an OS error.
    pub fn os(what: impl std::fmt::Display, err: std::io::Error) -> Self {
        Failure::op(format!("{what}: {err}"))
    }
}

/// The symbolic name of an errno, for messages.
pub fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::ESTALE => "ESTALE",
        libc::ELOOP => "ELOOP",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ENODATA => "ENODATA",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EBADMSG => "EBADMSG",
        libc::EPROTO => "EPROTO",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENOKEY => "ENOKEY",
        libc::EKEYREJECTED => "EKEYREJECTED",
        libc::ECANCELED => "ECANCELED",
        libc::ETIMEDOUT => "ETIMEDOUT",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

/// `strerror(e)` (thread-safe: through `strerror_r`, as `std` does).
pub fn strerror(e: i32) -> String {
    let s = std::io::Error::from_raw_os_error(e).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
