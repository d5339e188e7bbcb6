// SPDX-License-Identifier: GPL-2.0
//! Wait queues: a task sleeps, killably, until a word changes or a timeout
//! passes ([`WaitQ`]). The C side (`cptrst_waitq_*`) keeps the
//! `wait_queue_head_t` and its `wait_event_killable_timeout` (a macro);
//! what is waited for, and what a timeout means, is the caller's.

use core::ptr::NonNull;
use core::sync::atomic::AtomicU32;

use kernel::error::{code, Result};

mod ffi {
    #[repr(C)]
    pub(super) struct cptrst_waitq {
        _private: [u8; 0],
        _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
    }
    extern "C" {
        pub(super) fn cptrst_waitq_new() -> *mut cptrst_waitq;
        pub(super) fn cptrst_waitq_free(q: *mut cptrst_waitq);
        pub(super) fn cptrst_waitq_wait(
            q: *mut cptrst_waitq,
            word: *const u32,
            old: u32,
            timeout_ms: u32,
        ) -> i32;
        pub(super) fn cptrst_waitq_wake(q: *mut cptrst_waitq);
    }
}
use ffi::cptrst_waitq;

/// A wait queue on which tasks sleep until a word changes.
///
/// # Invariants
/// `self.q` points to a queue allocated by `cptrst_waitq_new` and owned here.
pub(crate) struct WaitQ {
    q: NonNull<cptrst_waitq>,
}

// SAFETY: a wait queue is made to be used by several tasks at once; its
// own spinlock protects it.
unsafe impl Send for WaitQ {}
// SAFETY: as above.
unsafe impl Sync for WaitQ {}

/// What a [`WaitQ::wait`] saw.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Woken {
    /// The word changed.
    Changed,
    /// The timeout passed: re-check the world, then wait again.
    Timeout,
}

impl WaitQ {
    /// A new queue.
    pub(crate) fn new() -> Result<WaitQ> {
        // SAFETY: no precondition.
        let q = unsafe { ffi::cptrst_waitq_new() };
        // INVARIANT: a fresh allocation, owned.
        NonNull::new(q).map(|q| WaitQ { q }).ok_or(code::ENOMEM)
    }

    /// Sleeps until `word` differs from `old`, a fatal signal, or `timeout_ms`.
    ///
    /// # Errors
    /// `EINTR` on a fatal signal.
    pub(crate) fn wait(&self, word: &AtomicU32, old: u32, timeout_ms: u32) -> Result<Woken> {
        // SAFETY: the queue is alive (type invariant); `word` is a valid
        // atomic for the whole call, which the C side only reads (READ_ONCE).
        let r = unsafe { ffi::cptrst_waitq_wait(self.q.as_ptr(), word.as_ptr(), old, timeout_ms) };
        match r {
            r if r < 0 => Err(code::EINTR),
            0 => Ok(Woken::Timeout),
            _ => Ok(Woken::Changed),
        }
    }

    /// Wakes every sleeper.
    pub(crate) fn wake(&self) {
        // SAFETY: the queue is alive (type invariant).
        unsafe { ffi::cptrst_waitq_wake(self.q.as_ptr()) }
    }
}

impl Drop for WaitQ {
    fn drop(&mut self) {
        // SAFETY: we own the allocation (type invariant); nobody sleeps on
        // it any more: every sleeper holds a reference to the object that
        // owns this queue (a restart context, or the registry, which lives
        // until the device is gone).
        unsafe { ffi::cptrst_waitq_free(self.q.as_ptr()) }
    }
}
