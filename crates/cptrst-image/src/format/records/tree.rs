// SPDX-License-Identifier: GPL-2.0
//! The TREE record: the process tree ([`Tree`], its [`TreeEntry`]s), and
//! the rules every tree must follow (pids, parents, thread groups, mm ids).

use super::super::consts::*;
use super::super::error::ErrorKind;
use super::super::wire::{to_u64, Rd, Wr};

/// One task of the TREE record.
///
/// Pids are as seen in the tree's pid namespace (the root task's), level 0
/// being that namespace, deeper levels the namespaces nested in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    /// `TASK_*` flags.
    pub flags: u32,
    /// Number of pid-namespace levels of the task, 1..=[`MAX_PID_LEVELS`].
    pub nr_levels: u32,
    /// Thread group id (pid of the group leader), level 0.
    pub tgid: u32,
    /// Pid of the parent task (`real_parent`), level 0; 0 for the root.
    pub ppid: u32,
    /// Process group id, level 0 (0: not visible there).
    pub pgid: u32,
    /// Session id, level 0 (0: not visible there).
    pub sid: u32,
    /// `exit_code` (for a zombie, the wait status).
    pub exit_code: u32,
    /// Signal sent to the parent on exit, 0 for none (threads).
    pub exit_signal: u32,
    /// Address space id: 0 for a zombie; tasks sharing an mm share the id.
    pub mm_id: u32,
    /// Pid at each level, level 0 first; zero past `nr_levels`.
    pub pids: [u32; MAX_PID_LEVELS],
}

impl TreeEntry {
    /// Pid at level 0 (in the tree's namespace).
    pub fn pid(&self) -> u32 {
        self.pids[0]
    }

    /// The pids of the task's levels.
    pub fn level_pids(&self) -> &[u32] {
        let n = (self.nr_levels as usize).min(MAX_PID_LEVELS);
        self.pids.get(..n).unwrap_or(&[])
    }

    /// Not its thread group's leader.
    pub fn is_thread(&self) -> bool {
        self.flags & TASK_THREAD != 0
    }

    /// A zombie.
    pub fn is_zombie(&self) -> bool {
        self.flags & TASK_ZOMBIE != 0
    }

    /// The checks entry `index` needs no other entry for: flags, pid
    /// levels, pids, exit signal.
    fn check_fields(&self, index: u32) -> Result<(), ErrorKind> {
        if self.flags & !TASK_FLAGS_KNOWN != 0 {
            return Err(ErrorKind::TreeBadFlags { index });
        }
        let levels = self.nr_levels as usize;
        if levels == 0 || levels > MAX_PID_LEVELS {
            return Err(ErrorKind::TreeBadPidLevels { index });
        }
        for (l, &p) in self.pids.iter().enumerate() {
            let bad = if l < levels {
                p == 0 || p > PID_MAX_LIMIT
            } else {
                p != 0
            };
            if bad {
                return Err(ErrorKind::TreeBadPid { index });
            }
        }
        if self.exit_signal > MAX_SIGNAL {
            return Err(ErrorKind::TreeBadExitSignal { index });
        }
        Ok(())
    }

    /// Checks entry `index` against its leader (a thread) or its parent (a
    /// group leader; none for the root, entry 0).
    fn check_lineage(&self, index: u32, rel: &Relatives) -> Result<(), ErrorKind> {
        if self.is_thread() {
            // A thread shares its leader's parent and pid namespaces.
            let l = match rel.leader {
                Some(l) if self.tgid != self.pid() && !l.is_thread() && l.ppid == self.ppid => l,
                _ => return Err(ErrorKind::TreeBadThread { index }),
            };
            if l.nr_levels != self.nr_levels {
                return Err(ErrorKind::TreeBadPidLevels { index });
            }
        } else if self.tgid != self.pid() {
            return Err(ErrorKind::TreeBadThread { index });
        } else if index == 0 {
            if self.ppid != 0 {
                return Err(ErrorKind::TreeRootHasParent);
            }
        } else {
            let p = rel.parent.ok_or(ErrorKind::TreeParentNotFound { index })?;
            // A child's pid namespace is its parent's or a descendant.
            if self.nr_levels < p.nr_levels {
                return Err(ErrorKind::TreeBadPidLevels { index });
            }
        }
        Ok(())
    }

    /// Checks entry `index`'s mm id: 0 for a zombie; for a live thread, its
    /// group's live mm id if it has one; else an id up to one more than
    /// the largest so far (`max_mm`). Returns the new largest.
    fn check_mm_id(
        &self,
        index: u32,
        group_live_mm: Option<u32>,
        max_mm: u32,
    ) -> Result<u32, ErrorKind> {
        if self.is_zombie() {
            if self.mm_id != 0 {
                return Err(ErrorKind::TreeBadMmId { index });
            }
            return Ok(max_mm);
        }
        let ok = match group_live_mm {
            Some(m) if self.is_thread() => self.mm_id == m,
            _ => self.mm_id != 0 && self.mm_id <= max_mm.saturating_add(1),
        };
        if !ok {
            return Err(ErrorKind::TreeBadMmId { index });
        }
        Ok(max_mm.max(self.mm_id))
    }

    fn decode(b: &[u8]) -> Option<(Self, u32)> {
        let mut r = Rd::new(b);
        let mut e = TreeEntry {
            flags: r.u32()?,
            nr_levels: r.u32()?,
            tgid: r.u32()?,
            ppid: r.u32()?,
            pgid: r.u32()?,
            sid: r.u32()?,
            exit_code: r.u32()?,
            exit_signal: r.u32()?,
            mm_id: r.u32()?,
            pids: [0; MAX_PID_LEVELS],
        };
        let reserved = r.u32()?;
        for p in e.pids.iter_mut() {
            *p = r.u32()?;
        }
        Some((e, reserved))
    }

    pub(in super::super) fn encode(&self, w: &mut Wr<'_>) -> Option<()> {
        for v in [
            self.flags,
            self.nr_levels,
            self.tgid,
            self.ppid,
            self.pgid,
            self.sid,
            self.exit_code,
            self.exit_signal,
            self.mm_id,
            0,
        ] {
            w.u32(v)?;
        }
        for p in self.pids {
            w.u32(p)?;
        }
        Some(())
    }
}

/// What a tree entry refers to among the entries before it.
struct Relatives {
    /// The entry whose pid is its parent pid.
    parent: Option<TreeEntry>,
    /// The entry whose pid is its tgid.
    leader: Option<TreeEntry>,
    /// The mm id of the first live entry of its thread group.
    group_live_mm: Option<u32>,
}

#[derive(Clone, Copy, Debug)]
enum TreeRepr<'a> {
    Le(&'a [u8]),
    Entries(&'a [TreeEntry]),
}

/// The TREE record: every task, parents before children, each thread after
/// its group leader.
#[derive(Clone, Copy, Debug)]
pub struct Tree<'a> {
    repr: TreeRepr<'a>,
}

impl<'a> Tree<'a> {
    /// A tree of `entries` (for encoding).
    pub fn from_entries(entries: &'a [TreeEntry]) -> Self {
        Self {
            repr: TreeRepr::Entries(entries),
        }
    }

    /// Number of tasks.
    pub fn len(&self) -> u32 {
        let n = match self.repr {
            TreeRepr::Le(b) => b.len() / TREE_ENTRY_LEN,
            TreeRepr::Entries(e) => e.len(),
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// No task.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Task `index`.
    pub fn get(&self, index: u32) -> Option<TreeEntry> {
        self.get_raw(index).map(|(e, _)| e)
    }

    fn get_raw(&self, index: u32) -> Option<(TreeEntry, u32)> {
        let i = index as usize;
        match self.repr {
            TreeRepr::Le(b) => {
                let start = i.checked_mul(TREE_ENTRY_LEN)?;
                let end = start.checked_add(TREE_ENTRY_LEN)?;
                TreeEntry::decode(b.get(start..end)?)
            }
            TreeRepr::Entries(e) => e.get(i).map(|e| (*e, 0)),
        }
    }

    /// Level-0 pid and tgid of task `index`.
    fn ids(&self, index: u32) -> Option<(u32, u32)> {
        let i = index as usize;
        match self.repr {
            TreeRepr::Le(b) => {
                let start = i.checked_mul(TREE_ENTRY_LEN)?;
                let mut r = Rd::new(b.get(start..)?);
                let _ = r.bytes(8)?;
                let tgid = r.u32()?;
                let _ = r.bytes(28)?;
                Some((r.u32()?, tgid))
            }
            TreeRepr::Entries(e) => e.get(i).map(|e| (e.pid(), e.tgid)),
        }
    }

    /// The entry of level-0 pid `pid` in thread group `tgid`, searched
    /// from entry `from` on (a thread comes after its leader).
    pub(in super::super) fn group_member(
        &self,
        from: u32,
        tgid: u32,
        pid: u32,
    ) -> Option<TreeEntry> {
        (from..self.len())
            .find(|&j| self.ids(j) == Some((pid, tgid)))
            .and_then(|j| self.get(j))
    }

    /// The tasks, in order.
    pub fn iter(&self) -> TreeIter<'a> {
        TreeIter {
            tree: *self,
            next: 0,
        }
    }

    /// Payload length of a tree of `count` tasks.
    pub fn payload_len(count: u32) -> Option<usize> {
        (count as usize)
            .checked_mul(TREE_ENTRY_LEN)?
            .checked_add(TREE_FIXED_LEN)
    }

    pub(in super::super) fn decode(p: &'a [u8]) -> Result<Self, ErrorKind> {
        let mut r = Rd::new(p);
        let count = r.u32().ok_or(ErrorKind::BadPayloadLength {
            len: to_u64(p.len()),
            expected: TREE_FIXED_LEN as u64,
        })?;
        let reserved = r.u32().ok_or(ErrorKind::BadPayloadLength {
            len: to_u64(p.len()),
            expected: TREE_FIXED_LEN as u64,
        })?;
        if reserved != 0 {
            return Err(ErrorKind::NonZeroReserved);
        }
        if count == 0 {
            return Err(ErrorKind::TreeEmpty);
        }
        if count > MAX_TASKS {
            return Err(ErrorKind::TooManyTasks { count });
        }
        let expected = Self::payload_len(count).ok_or(ErrorKind::TooManyTasks { count })?;
        if p.len() != expected {
            return Err(ErrorKind::BadPayloadLength {
                len: to_u64(p.len()),
                expected: to_u64(expected),
            });
        }
        Ok(Tree {
            repr: TreeRepr::Le(r.rest()),
        })
    }

    /// Checks every entry against the tree rules; returns the number of mm ids.
    pub(in super::super) fn check(&self) -> Result<u32, ErrorKind> {
        let mut max_mm = 0u32;
        for i in 0..self.len() {
            let (e, reserved) = self.get_raw(i).ok_or(ErrorKind::TreeEmpty)?;
            if reserved != 0 {
                return Err(ErrorKind::NonZeroReserved);
            }
            e.check_fields(i)?;
            let rel = self.relatives(i, &e)?;
            e.check_lineage(i, &rel)?;
            max_mm = e.check_mm_id(i, rel.group_live_mm, max_mm)?;
        }
        Ok(max_mm)
    }

    /// What entry `i` (`e`) refers to among the entries before it; refuses
    /// a pid one of them has already.
    fn relatives(&self, i: u32, e: &TreeEntry) -> Result<Relatives, ErrorKind> {
        let mut rel = Relatives {
            parent: None,
            leader: None,
            group_live_mm: None,
        };
        // Quadratic, but reads only two words per earlier entry.
        for j in 0..i {
            let Some((pid, tgid)) = self.ids(j) else {
                continue;
            };
            if pid == e.pid() {
                return Err(ErrorKind::TreeDuplicatePid { index: i });
            }
            if rel.parent.is_none() && pid == e.ppid {
                rel.parent = self.get(j);
            }
            if pid == e.tgid {
                rel.leader = self.get(j);
            }
            if rel.group_live_mm.is_none() && tgid == e.tgid {
                rel.group_live_mm = self.get(j).filter(|o| !o.is_zombie()).map(|o| o.mm_id);
            }
        }
        Ok(rel)
    }

    pub(in super::super) fn encode_body(&self, w: &mut Wr<'_>) -> Option<()> {
        w.u32(self.len())?;
        w.u32(0)?;
        for e in self.iter() {
            e.encode(w)?;
        }
        Some(())
    }
}

impl PartialEq for Tree<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Iterator over the tasks of a [`Tree`].
#[derive(Clone, Debug)]
pub struct TreeIter<'a> {
    tree: Tree<'a>,
    next: u32,
}

impl Iterator for TreeIter<'_> {
    type Item = TreeEntry;

    fn next(&mut self) -> Option<TreeEntry> {
        let e = self.tree.get(self.next)?;
        self.next = self.next.checked_add(1)?;
        Some(e)
    }
}
