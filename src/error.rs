// SPDX-License-Identifier: GPL-2.0
//! The module's error type for operations that report a message: [`Fail`],
//! an errno with a short text naming what failed (the image record and its
//! offset, the task), which the restart operation copies to the caller's
//! message buffer. Built with [`fail!`]; `?` converts a bare kernel
//! [`Error`] or an allocation failure ([`AllocError`], `ENOMEM`) into one.

use core::fmt::{self, Write};

use kernel::alloc::AllocError;
use kernel::error::code;
use kernel::prelude::*;

use crate::image;

/// A short message (truncated past its capacity).
pub(crate) struct Msg {
    buf: [u8; Msg::CAP],
    len: usize,
}

impl Msg {
    const CAP: usize = 240;

    /// An empty message.
    pub(crate) const fn new() -> Msg {
        Msg {
            buf: [0; Msg::CAP],
            len: 0,
        }
    }

    /// The text.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// The text as a `str` (a message cut inside a UTF-8 sequence loses
    /// its end).
    pub(crate) fn as_str(&self) -> &str {
        let b = self.as_bytes();
        match core::str::from_utf8(b) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

impl Write for Msg {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len >= Msg::CAP {
                break;
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// Why an operation fails: the errno and a message for the caller.
pub(crate) struct Fail {
    pub(crate) err: Error,
    pub(crate) msg: Msg,
}

impl Fail {
    /// A failure with a formatted message.
    pub(crate) fn new(err: Error, args: fmt::Arguments<'_>) -> Fail {
        let mut msg = Msg::new();
        let _ = msg.write_fmt(args);
        Fail { err, msg }
    }

    /// A failure that only has an errno (allocation, signal...).
    pub(crate) fn errno(err: Error, what: &str) -> Fail {
        Fail::new(err, format_args!("{}: error {}", what, err.to_errno()))
    }

    /// The same failure, its message prefixed with `who`'s name.
    pub(crate) fn prefixed(self, who: fmt::Arguments<'_>) -> Fail {
        Fail::new(self.err, format_args!("{}: {}", who, self.msg.as_str()))
    }
}

impl From<Error> for Fail {
    fn from(err: Error) -> Fail {
        Fail::errno(err, "restart")
    }
}

impl From<AllocError> for Fail {
    fn from(_: AllocError) -> Fail {
        Fail::errno(code::ENOMEM, "restart")
    }
}

/// `fail!(ERRNO, "format", args...)`: a [`Fail`].
macro_rules! fail {
    ($err:expr, $($arg:tt)*) => {
        $crate::error::Fail::new($err, format_args!($($arg)*))
    };
}
pub(crate) use fail;

/// The failure for an image the validator refused: `ENOEXEC` for an image
/// of another kind of machine or format, `EINVAL` for a damaged one.
pub(crate) fn image_fail(e: image::Error) -> Fail {
    let err = match e.kind {
        image::ErrorKind::BadMagic
        | image::ErrorKind::UnsupportedMajor { .. }
        | image::ErrorKind::WrongArch { .. }
        | image::ErrorKind::BadPageSize { .. } => code::ENOEXEC,
        _ => code::EINVAL,
    };
    fail!(err, "{}", e)
}

/// `EOPNOTSUPP` (the `kernel` crate of 6.12 does not name it).
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(kernel::bindings::EOPNOTSUPP as i32))
}
