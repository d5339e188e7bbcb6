//! The cptrst user-space library: the device, eclone, and (in the tool) the
//! commands built on them.

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
