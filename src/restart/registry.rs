// SPDX-License-Identifier: GPL-2.0
//! The registry of the restarts under way: the coordinator registers its
//! context ([`Registry::register`], undone when the [`Registered`] guard
//! drops); a participant finds the context whose tree it is in
//! ([`Registry::find_waiting`]), waiting for it to be registered.
//!
//! The registry belongs to the `/dev/cptrst` device ([`crate::device`]),
//! so it lives exactly as long as the module can be called.

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::error::code;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use super::context::Ctx;
use crate::error::{fail, Fail};
use crate::wait::WaitQ;

/// How long a participant sleeps between looks at the registry.
const FIND_POLL_MS: u32 = 1000;

/// The contexts of the restarts under way.
#[pin_data]
pub(crate) struct Registry {
    /// The registered contexts (free slots are `None`), at most one per
    /// root task. Held only to look up, add or remove an entry.
    #[pin]
    contexts: Mutex<KVec<Option<Arc<Ctx>>>>,
    /// Bumped whenever a context is registered (participants wait on it).
    generation: AtomicU32,
    announce: WaitQ,
}

impl Registry {
    /// An empty registry.
    pub(crate) fn new() -> Result<impl PinInit<Self>> {
        let announce = WaitQ::new()?;
        Ok(pin_init!(Registry {
            contexts <- new_mutex!(KVec::new(), "Registry::contexts"),
            generation: AtomicU32::new(0),
            announce,
        }))
    }

    /// Registers `ctx`, and announces it to the waiting participants.
    ///
    /// # Errors
    /// `EBUSY` if another restart already waits for the same root task.
    pub(super) fn register<'a>(&'a self, ctx: &Arc<Ctx>) -> Result<Registered<'a>, Fail> {
        {
            let mut v = self.contexts.lock();
            if v.iter().flatten().any(|c| c.root.same(&ctx.root)) {
                return Err(fail!(
                    code::EBUSY,
                    "another restart already waits for that task"
                ));
            }
            match v.iter_mut().find(|s| s.is_none()) {
                Some(slot) => *slot = Some(ctx.clone()),
                None => v.push(Some(ctx.clone()), GFP_KERNEL)?,
            }
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.announce.wake();
        Ok(Registered {
            reg: self,
            ctx: ctx.clone(),
        })
    }

    /// The registered context whose tree has the caller (its root, a
    /// thread of the root, or a descendant).
    pub(super) fn find(&self) -> Option<Arc<Ctx>> {
        self.contexts
            .lock()
            .iter()
            .flatten()
            .find(|c| c.root.has_current_below())
            .cloned()
    }

    /// As [`Registry::find`], waiting (killably) until such a context is
    /// registered.
    pub(super) fn find_waiting(&self) -> Result<Arc<Ctx>, Fail> {
        loop {
            let gen = self.generation.load(Ordering::Acquire);
            if let Some(c) = self.find() {
                return Ok(c);
            }
            self.announce
                .wait(&self.generation, gen, FIND_POLL_MS)
                .map_err(|e| fail!(e, "interrupted while waiting for the coordinator"))?;
        }
    }

    fn unregister(&self, ctx: &Arc<Ctx>) {
        let mut v = self.contexts.lock();
        for slot in v.iter_mut() {
            if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, ctx)) {
                *slot = None;
            }
        }
        if v.iter().all(|s| s.is_none()) {
            // Free the allocation: nothing may stay behind at unload.
            *v = KVec::new();
        }
    }
}

/// A registered context; unregisters it when dropped.
pub(super) struct Registered<'a> {
    reg: &'a Registry,
    ctx: Arc<Ctx>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.reg.unregister(&self.ctx);
    }
}
