//! How `cptrst restart` builds a process tree (Documentation/restart.rst, "Roles"):
//! from the image's TREE, one creation plan per entry, computed in the tool
//! before the first task is created, so that the tasks only read it.
//!
//! - The tool creates the root: pid 1 of a new pid namespace when its pid is
//!   1, else at its pid in the tool's namespace.
//! - Every other process is created by its parent (the leader of the group
//!   whose tgid is its ppid), in image order, with its pids at every level of
//!   the tree (`pids[0..=depth]`, outermost first: levels above the tree's
//!   get free pids), and `CLONE_NEWPID` when it is one level deeper than its
//!   parent (it is then the init of the new namespace: its last pid is 1).
//! - Threads are created by their leader, after its children, at their pids.
//! - Right after it is created, before it creates anything, a process sets
//!   its session and process group: `setsid()` for a session leader,
//!   `setpgid(0, 0)` for a group leader, `setpgid(0, G)` to join a group
//!   built earlier in the same session, or nothing when the inherited ones
//!   are right. A group or session whose leader is outside the tree stays the
//!   tool's.
//!
//! What cannot be built that way is refused, naming the task.

use cptrst_image::TreeEntry;
use cptrst_uapi::{CLONE_NEWPID, CLONE_THREAD, CLONE_VM};

/// Clone flags of a thread (its exit signal is 0).
pub const THREAD_FLAGS: u32 = CLONE_VM
    | libc::CLONE_FS as u32
    | libc::CLONE_FILES as u32
    | libc::CLONE_SIGHAND as u32
    | CLONE_THREAD
    | libc::CLONE_SYSVSEM as u32;

/// What a new process does about its session and process group, before it
/// creates its children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Keep the inherited session and group.
    Keep,
    /// `setsid()`: a session (and group) leader.
    Setsid,
    /// `setpgid(0, 0)`: a group leader.
    Lead,
    /// `setpgid(0, pgid)`: join the group of an earlier task of the tree
    /// (a pid at level 0 of the tree, which is the task's own level).
    Join(i32),
    /// `setpgid(0, <the tool's pgid>)`: join the tool's group, which stands
    /// for the root's group when it is outside the tree.
    JoinTool,
}

/// How one TREE entry is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The task that creates it (None: the tool).
    pub creator: Option<u32>,
    /// eclone's `flags_low`, with the exit signal.
    pub flags: u32,
    /// eclone's pids, outermost namespace first.
    pub pids: Vec<i32>,
    /// A thread (created with [`THREAD_FLAGS`] by its leader).
    pub thread: bool,
    /// A zombie: its restart call returns the status to exit with.
    pub zombie: bool,
    /// Session and group (processes only).
    pub group: Group,
    /// The processes it creates, in image order.
    pub children: Vec<u32>,
    /// The threads it creates (a leader), in image order.
    pub threads: Vec<u32>,
}

impl Plan {
    /// Creates a new pid namespace (and is its init).
    pub fn new_ns(&self) -> bool {
        self.flags & CLONE_NEWPID != 0
    }
}

/// Why a tree cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The task that cannot be built.
    pub index: u32,
    /// Its pid (level 0).
    pub pid: u32,
    /// Why.
    pub why: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "task {} (pid {}): {}", self.index, self.pid, self.why)
    }
}

fn depth(e: &TreeEntry) -> usize {
    e.level_pids().len().saturating_sub(1)
}

/// The creation plan of every entry of `tree` (image order), or the first
/// task that cannot be built.
pub fn plan_tree(tree: &[TreeEntry]) -> Result<Vec<Plan>, Refusal> {
    let refuse = |i: usize, why: String| Refusal { index: i as u32, pid: tree[i].pid(), why };
    let find = |pid: u32, before: usize| tree[..before].iter().position(|o| o.pid() == pid);
    let root = tree.first().ok_or_else(|| Refusal { index: 0, pid: 0, why: "the tree is empty".into() })?;
    if root.is_thread() || depth(root) != 0 {
        return Err(refuse(0, "the root must be a process in the tree's own pid namespace".into()));
    }
    // Groups that exist when a task is created, by their level-0 id, with
    // their session, and the action that joins them.
    let mut groups: Vec<(u32, u32, Group)> = Vec::new();
    // Session and group each process ends up in (level-0 ids).
    let mut sess: Vec<(u32, u32)> = vec![(0, 0); tree.len()];
    let mut plans: Vec<Plan> = Vec::with_capacity(tree.len());
    for (i, e) in tree.iter().enumerate() {
        let pids: Vec<i32> = e.level_pids().iter().map(|&p| p as i32).collect();
        let mut p = Plan {
            creator: None,
            flags: 0,
            pids,
            thread: e.is_thread(),
            zombie: e.is_zombie(),
            group: Group::Keep,
            children: Vec::new(),
            threads: Vec::new(),
        };
        if e.is_thread() {
            let l = find(e.tgid, i)
                .filter(|&l| !tree[l].is_thread())
                .ok_or_else(|| refuse(i, "its thread group leader is not before it".into()))?;
            if e.is_zombie() {
                return Err(refuse(i, "a zombie thread cannot be re-created (only a zombie process can)".into()));
            }
            if tree[l].is_zombie() {
                return Err(refuse(i, format!("its thread group leader, task {l} (pid {}), is a zombie", tree[l].pid())));
            }
            if depth(&tree[l]) != depth(e) {
                return Err(refuse(i, "it is not in its leader's pid namespace".into()));
            }
            p.creator = Some(l as u32);
            p.flags = THREAD_FLAGS;
            plans[l].threads.push(i as u32);
            sess[i] = sess[l];
            plans.push(p);
            continue;
        }
        let (inherited, new_ns) = if i == 0 {
            p.flags = libc::SIGCHLD as u32;
            // The tool's session and group, named as the root's when they
            // are outside the tree.
            ((e.sid, e.pgid), e.pid() == 1)
        } else {
            let par = find(e.ppid, i)
                .filter(|&j| !tree[j].is_thread())
                .ok_or_else(|| refuse(i, format!("its parent, pid {}, is not before it", e.ppid)))?;
            let pe = &tree[par];
            if pe.is_zombie() {
                return Err(refuse(i, format!("its parent, task {par} (pid {}), is a zombie: a zombie cannot create children", pe.pid())));
            }
            let (d, dp) = (depth(e), depth(pe));
            let new_ns = if d == dp {
                false
            } else if d == dp + 1 && e.level_pids()[d] == 1 {
                true
            } else if d == dp + 1 {
                return Err(refuse(i, format!(
                    "it has pid {} in a pid namespace below its parent's: a parent can only create the init (pid 1) of a new one",
                    e.level_pids()[d]
                )));
            } else {
                return Err(refuse(i, format!("it is {} pid namespace levels below its parent: at most one can be created", d - dp)));
            };
            p.creator = Some(par as u32);
            p.flags = (e.exit_signal & cptrst_uapi::CSIGNAL) | if new_ns { CLONE_NEWPID } else { 0 };
            plans[par].children.push(i as u32);
            (sess[par], new_ns)
        };
        if i == 0 && new_ns {
            p.flags |= CLONE_NEWPID;
        }
        let pid = e.pid();
        let (isid, ipgid) = inherited;
        if e.sid == pid {
            if e.pgid != pid {
                let why = format!("a session leader in process group {}: setsid() makes it the leader of its own group", e.pgid);
                return Err(refuse(i, why));
            }
            p.group = Group::Setsid;
            groups.push((pid, pid, Group::Join(pid as i32)));
        } else {
            if e.sid != isid {
                let whose = if i == 0 { "the restart tool's".to_string() } else { format!("its parent's is {isid}") };
                return Err(refuse(i, format!(
                    "its session {} cannot be re-created: a session is inherited or made by its leader ({whose})",
                    e.sid
                )));
            }
            if e.pgid == pid {
                p.group = Group::Lead;
                groups.push((pid, e.sid, Group::Join(pid as i32)));
            } else if e.pgid != ipgid {
                let g = groups.iter().find(|g| g.0 == e.pgid && e.pgid != 0);
                match g {
                    Some(&(_, s, _)) if s != e.sid => {
                        return Err(refuse(i, format!("its process group {} is in another session ({s})", e.pgid)));
                    }
                    Some(_) if depth(e) != 0 => {
                        return Err(refuse(i, format!(
                            "joining process group {} from inside a nested pid namespace is not supported",
                            e.pgid
                        )));
                    }
                    Some(&(_, _, Group::JoinTool)) if tree[0].pid() == 1 => {
                        return Err(refuse(i, format!("its process group {} is outside the tree's pid namespace", e.pgid)));
                    }
                    Some(&(_, _, join)) => p.group = join,
                    None if e.pgid == 0 => {
                        return Err(refuse(i, "its process group is outside the tree's pid namespace (pgid 0)".into()));
                    }
                    None => {
                        return Err(refuse(i, format!(
                            "its process group {} cannot be re-created: its leader is not in the tree, or comes after it",
                            e.pgid
                        )));
                    }
                }
            }
            if i == 0 && e.pgid != pid {
                groups.push((e.pgid, e.sid, Group::JoinTool));
            }
        }
        sess[i] = (e.sid, e.pgid);
        plans.push(p);
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cptrst_image::{sample, MAX_PID_LEVELS, TASK_THREAD, TASK_ZOMBIE};

    const SIGCHLD: u32 = libc::SIGCHLD as u32;

    /// A process (or, with TASK_THREAD, a thread) at `levels`.
    fn ent(flags: u32, levels: &[u32], tgid: u32, ppid: u32, pgid: u32, sid: u32) -> TreeEntry {
        let mut pids = [0u32; MAX_PID_LEVELS];
        pids[..levels.len()].copy_from_slice(levels);
        TreeEntry {
            flags,
            nr_levels: levels.len() as u32,
            tgid,
            ppid,
            pgid,
            sid,
            exit_code: 0,
            exit_signal: if flags & TASK_THREAD != 0 { 0 } else { SIGCHLD },
            mm_id: if flags & TASK_ZOMBIE != 0 { 0 } else { 1 },
            pids,
        }
    }

    fn proc_(pid: u32, ppid: u32, pgid: u32, sid: u32) -> TreeEntry {
        ent(0, &[pid], pid, ppid, pgid, sid)
    }

    fn refusal(tree: &[TreeEntry]) -> Refusal {
        plan_tree(tree).expect_err("accepted")
    }

    #[test]
    fn the_sample_tree() {
        let tree = sample::tree_entries();
        let p = plan_tree(&tree).unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[0], Plan {
            creator: None,
            flags: SIGCHLD,
            pids: vec![100],
            thread: false,
            zombie: false,
            group: Group::Setsid,
            children: vec![2, 3],
            threads: vec![1],
        });
        assert_eq!((p[1].creator, p[1].flags, &p[1].pids[..], p[1].thread), (Some(0), THREAD_FLAGS, &[101][..], true));
        assert!(p[1].children.is_empty() && p[1].threads.is_empty());
        // The init of a nested namespace, at both levels.
        assert_eq!((p[2].creator, p[2].flags, &p[2].pids[..]), (Some(0), SIGCHLD | CLONE_NEWPID, &[102, 1][..]));
        assert!(p[2].new_ns() && !p[0].new_ns());
        assert_eq!((p[2].group, p[3].group), (Group::Keep, Group::Keep));
        assert!(p[3].zombie && !p[3].thread);
        assert_eq!((p[3].creator, &p[3].pids[..]), (Some(0), &[103][..]));
    }

    #[test]
    fn a_root_at_pid_1_gets_a_new_namespace() {
        let tree = [proc_(1, 0, 0, 0), proc_(5, 1, 0, 0), ent(0, &[6, 1], 6, 5, 0, 0)];
        let p = plan_tree(&tree).unwrap();
        assert_eq!((p[0].flags, &p[0].pids[..], p[0].group), (SIGCHLD | CLONE_NEWPID, &[1][..], Group::Keep));
        assert_eq!((p[1].creator, p[1].flags, &p[1].pids[..]), (Some(0), SIGCHLD, &[5][..]));
        assert_eq!((p[2].creator, p[2].flags, &p[2].pids[..]), (Some(1), SIGCHLD | CLONE_NEWPID, &[6, 1][..]));
        assert_eq!(p[0].children, [1]);
        assert_eq!(p[1].children, [2]);
    }

    #[test]
    fn nested_namespaces_set_every_level() {
        // 10 -> init 11 (ns A) -> 12 (in A) -> init 13 (ns B in A), with a thread.
        let tree = [
            proc_(10, 0, 10, 10),
            ent(0, &[11, 1], 11, 10, 10, 10),
            ent(0, &[12, 2], 12, 11, 10, 10),
            ent(0, &[13, 3, 1], 13, 12, 10, 10),
            ent(TASK_THREAD, &[14, 4, 2], 13, 12, 10, 10),
        ];
        let p = plan_tree(&tree).unwrap();
        assert_eq!(&p[2].pids[..], &[12, 2]);
        assert_eq!(p[2].flags, SIGCHLD);
        assert_eq!(&p[3].pids[..], &[13, 3, 1]);
        assert_eq!(p[3].flags, SIGCHLD | CLONE_NEWPID);
        assert_eq!((p[4].creator, &p[4].pids[..], p[4].flags), (Some(3), &[14, 4, 2][..], THREAD_FLAGS));
        assert_eq!(p[3].threads, [4]);
    }

    #[test]
    fn exit_signals_are_kept() {
        let mut c = proc_(11, 10, 10, 10);
        c.exit_signal = 0;
        let p = plan_tree(&[proc_(10, 0, 10, 10), c]).unwrap();
        assert_eq!(p[1].flags, 0);
    }

    #[test]
    fn sessions_and_groups() {
        // The root stays in the tool's session and group (7, 8), its first
        // child leads a group, the second joins it, the third starts a
        // session with a child in it, the fourth goes back to the tool's
        // group from the child's.
        let tree = [
            proc_(10, 0, 7, 8),
            proc_(11, 10, 11, 8),
            proc_(12, 10, 11, 8),
            proc_(13, 10, 13, 13),
            proc_(14, 11, 7, 8),
            proc_(15, 13, 13, 13),
            proc_(16, 13, 16, 13),
        ];
        let g: Vec<Group> = plan_tree(&tree).unwrap().iter().map(|p| p.group).collect();
        assert_eq!(
            g,
            [Group::Keep, Group::Lead, Group::Join(11), Group::Setsid, Group::JoinTool, Group::Keep, Group::Lead]
        );
        // The root leads its group, in the tool's session.
        let g: Vec<Group> = plan_tree(&[proc_(10, 0, 10, 8), proc_(11, 10, 10, 8)]).unwrap().iter().map(|p| p.group).collect();
        assert_eq!(g, [Group::Lead, Group::Keep]);
        // Joining a zombie's group works: it exits only after the restart.
        let mut z = proc_(11, 10, 11, 10);
        z.flags = TASK_ZOMBIE;
        z.mm_id = 0;
        let g: Vec<Group> =
            plan_tree(&[proc_(10, 0, 10, 10), z, proc_(12, 10, 11, 10)]).unwrap().iter().map(|p| p.group).collect();
        assert_eq!(g, [Group::Setsid, Group::Lead, Group::Join(11)]);
    }

    #[test]
    fn refusals_name_the_task() {
        let mut zombie = proc_(11, 10, 10, 10);
        zombie.flags = TASK_ZOMBIE;
        let cases: Vec<(Vec<TreeEntry>, u32, &str)> = vec![
            // A zombie parent.
            (vec![proc_(10, 0, 10, 10), zombie, proc_(12, 11, 10, 10)], 2, "is a zombie: a zombie cannot create children"),
            // A zombie thread.
            (vec![proc_(10, 0, 10, 10), ent(TASK_THREAD | TASK_ZOMBIE, &[11], 10, 0, 10, 10)], 1, "zombie thread"),
            // A thread whose leader is a zombie.
            (
                vec![proc_(10, 0, 10, 10), zombie, ent(TASK_THREAD, &[12], 11, 10, 10, 10)],
                2,
                "leader, task 1 (pid 11), is a zombie",
            ),
            // A session not inherited and not led by the task.
            (vec![proc_(10, 0, 10, 10), proc_(11, 10, 11, 99)], 1, "session 99 cannot be re-created"),
            // A group whose leader is outside the tree.
            (vec![proc_(10, 0, 10, 10), proc_(11, 10, 50, 10)], 1, "process group 50 cannot be re-created"),
            // A group whose leader comes later.
            (vec![proc_(10, 0, 10, 10), proc_(11, 10, 12, 10), proc_(12, 10, 12, 10)], 1, "process group 12 cannot"),
            // A group in another session.
            (vec![proc_(10, 0, 10, 10), proc_(11, 10, 11, 11), proc_(12, 10, 11, 10)], 2, "another session"),
            // A session leader that is not its group's leader.
            (vec![proc_(10, 0, 10, 10), proc_(11, 10, 10, 11)], 1, "session leader in process group 10"),
            // Two namespace levels at once.
            (vec![proc_(10, 0, 10, 10), ent(0, &[11, 1, 1], 11, 10, 10, 10)], 1, "2 pid namespace levels below"),
            // A non-init in a new namespace.
            (vec![proc_(10, 0, 10, 10), ent(0, &[11, 2], 11, 10, 10, 10)], 1, "it has pid 2 in a pid namespace below"),
            // Joining a group from a nested namespace.
            (
                vec![proc_(10, 0, 10, 10), proc_(11, 10, 11, 10), ent(0, &[12, 1], 12, 10, 10, 10), ent(0, &[13, 2], 13, 12, 11, 10)],
                3,
                "nested pid namespace",
            ),
            // The tool's group, from the new namespace of a root at pid 1.
            (vec![proc_(1, 0, 0, 0), proc_(2, 1, 2, 0), proc_(3, 2, 0, 0)], 2, "outside the tree's pid namespace"),
            (vec![proc_(1, 0, 5, 0), proc_(2, 1, 2, 0), proc_(3, 2, 5, 0)], 2, "outside the tree's pid namespace"),
            // A root in a nested namespace of its own tree.
            (vec![ent(0, &[10, 1], 10, 0, 10, 10)], 0, "root must be a process"),
        ];
        for (tree, index, text) in cases {
            let r = refusal(&tree);
            assert_eq!(r.index, index, "{tree:?}: {r}");
            assert_eq!(r.pid, tree[index as usize].pid());
            assert!(r.to_string().starts_with(&format!("task {index} (pid {}): ", r.pid)), "{r}");
            assert!(r.why.contains(text), "{r}");
        }
    }
}
