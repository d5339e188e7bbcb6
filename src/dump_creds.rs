// SPDX-License-Identifier: GPL-2.0
//! Dump code for credentials beyond the ids (which the TASK record
//! holds): the CREDS record of each live task, its capability sets,
//! securebits, no_new_privs and supplementary groups as seen from the
//! caller's user namespace ([`collect`] in the checkpoint's pre-pass,
//! [`write`] with the task). Credentials of another user namespace than
//! the caller's are refused: the ids and capabilities would mean
//! something else there.

use kernel::error::code;
use kernel::prelude::*;

use crate::cred::{self, CredsExt};
use crate::error::{eopnotsupp, fail, Fail};
use crate::image;
use crate::image_out::ImageOut;
use crate::task::Task;

/// A task's CREDS record, ready to write.
pub(crate) struct CredsRec {
    pub(crate) head: image::CredsHead,
    pub(crate) groups: KVVec<u32>,
}

/// The CREDS fields of credentials `c`. The kernel keeps its invariants
/// (effective and ambient within permitted, ambient within inheritable):
/// they are kept here by construction, whatever was read.
pub(crate) fn head_of(c: &CredsExt) -> image::CredsHead {
    let v = image::CAP_VALID;
    let permitted = c.cap_permitted & v;
    let inheritable = c.cap_inheritable & v;
    image::CredsHead {
        cap_inheritable: inheritable,
        cap_permitted: permitted,
        cap_effective: c.cap_effective & permitted,
        cap_bset: c.cap_bset & v,
        cap_ambient: c.cap_ambient & permitted & inheritable,
        securebits: c.securebits & 0xff,
        flags: if c.no_new_privs != 0 {
            image::CREDS_NO_NEW_PRIVS
        } else {
            0
        },
    }
}

/// Reads and checks the credentials of live task `index` (pid `pid`).
///
/// # Errors
/// `EOPNOTSUPP` for credentials of another user namespace than the
/// caller's, `ENOMEM`, `E2BIG`.
pub(crate) fn collect(t: &Task, index: u32, pid: i32) -> Result<CredsRec, Fail> {
    let (c, groups) = cred::creds_ext(t)?;
    if c.foreign_ns != 0 {
        pr_info!(
            "cptrst: checkpoint: task {} (pid {}): credentials of another user namespace\n",
            index,
            pid
        );
        return Err(fail!(
            eopnotsupp(),
            "task {} (pid {}): its credentials belong to another user namespace than the caller's: not supported",
            index,
            pid
        ));
    }
    Ok(CredsRec {
        head: head_of(&c),
        groups,
    })
}

/// Writes the CREDS record of `c`.
pub(crate) fn write(out: &mut ImageOut, c: &CredsRec) -> Result {
    let n = u32::try_from(c.groups.len()).map_err(|_| code::E2BIG)?;
    let len = image::Creds::payload_len(n).ok_or(code::E2BIG)?;
    out.put(image::RECORD_HEADER_LEN + len, |e, b| {
        e.creds(&c.head, &c.groups, b)
    })
}
