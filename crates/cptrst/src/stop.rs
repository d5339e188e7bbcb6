//! Stopping a process tree with ptrace, as the module requires before a
//! checkpoint: every thread is seized (`PTRACE_SEIZE`), interrupted
//! (`PTRACE_INTERRUPT`) and waited for, until no new thread or child
//! appears. Being the tracer is also what grants the checkpoint: the kernel
//! ran its ptrace permission and LSM checks on the seize.

use std::collections::BTreeSet;
use std::io;

use cptrst::{proc, Failure};

/// What happens to the tree when the tool lets go of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Left in group stop (`SIGSTOP`): resume it with `SIGCONT`.
    Stop,
    /// Let run on, as if nothing happened.
    Resume,
    /// Killed with `SIGKILL`.
    Kill,
}

/// A tree of processes stopped by this process. Dropping it resumes the
/// tree (the state it had before), unless [`Stopped::release`] said otherwise.
pub struct Stopped {
    /// Thread group ids, root first.
    pub procs: Vec<i32>,
    /// Every seized thread.
    pub tids: BTreeSet<i32>,
    released: bool,
}

fn ptrace(req: libc::c_uint, tid: i32, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: the requests used here (SEIZE, INTERRUPT, DETACH, GETEVENTMSG)
    // take an integer or a pointer to a local u64 as `data`, nothing else.
    let r = unsafe { libc::ptrace(req, tid, 0usize, data) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Stops the tree rooted at `root`.
pub fn stop_tree(root: i32) -> Result<Stopped, Failure> {
    if root <= 0 {
        return Err(Failure::usage(format!("bad pid {root}")));
    }
    if !std::path::Path::new(&format!("/proc/{root}")).exists() {
        return Err(Failure::op(format!("pid {root}: no such process")));
    }
    let mut st = Stopped { procs: Vec::new(), tids: BTreeSet::new(), released: false };
    loop {
        let mut new = Vec::new();
        let mut procs = Vec::new();
        let mut queue = vec![root];
        while let Some(p) = queue.pop() {
            procs.push(p);
            let threads = match proc::threads(p) {
                Ok(t) => t,
                Err(_) => continue, // exited meanwhile
            };
            for t in threads {
                queue.extend(proc::children(p, t));
                if !st.tids.contains(&t) && proc::state(t) != Some('Z') {
                    new.push(t);
                }
            }
        }
        st.procs = procs;
        if new.is_empty() {
            break;
        }
        for &t in &new {
            match ptrace(libc::PTRACE_SEIZE, t, 0) {
                Ok(_) => {
                    st.tids.insert(t);
                }
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
                Err(e) => {
                    return Err(Failure::os(format!("cannot seize task {t}"), e));
                }
            }
            ptrace(libc::PTRACE_INTERRUPT, t, 0).map_err(|e| Failure::os(format!("interrupt {t}"), e))?;
        }
        for &t in &new {
            if st.tids.contains(&t) {
                wait_stop(t)?;
            }
        }
    }
    Ok(st)
}

/// Waits for `tid`'s ptrace stop, then makes one ptrace request, which
/// returns only once the task is off its CPU (`ptrace_check_attach`).
fn wait_stop(tid: i32) -> Result<(), Failure> {
    let mut status = 0;
    // SAFETY: plain waitpid on a traced thread, status is a local.
    let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL) };
    if r < 0 {
        return Err(Failure::os(format!("waiting for task {tid} to stop"), io::Error::last_os_error()));
    }
    if !libc::WIFSTOPPED(status) {
        return Err(Failure::op(format!("task {tid} exited while being stopped")));
    }
    let mut msg: u64 = 0;
    ptrace(libc::PTRACE_GETEVENTMSG, tid, &mut msg as *mut u64 as usize)
        .map_err(|e| Failure::os(format!("task {tid} did not stop"), e))?;
    Ok(())
}

impl Stopped {
    /// Lets go of the tree, leaving it as `after` says.
    pub fn release(mut self, after: After) {
        self.released = true;
        self.let_go(after);
    }

    /// The stopped processes (the root first).
    pub fn procs(&self) -> &[i32] {
        &self.procs
    }

    /// The stopped threads.
    pub fn tids(&self) -> &BTreeSet<i32> {
        &self.tids
    }

    /// The processes as a space-separated list.
    pub fn pid_list(&self) -> String {
        self.procs.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" ")
    }

    fn let_go(&self, after: After) {
        for &p in &self.procs {
            let sig = match after {
                After::Stop => libc::SIGSTOP,
                After::Kill => libc::SIGKILL,
                After::Resume => 0,
            };
            if sig != 0 {
                // SAFETY: kill(2) with a pid we stopped ourselves.
                unsafe { libc::kill(p, sig) };
            }
        }
        if after != After::Kill {
            for &t in &self.tids {
                let _ = ptrace(libc::PTRACE_DETACH, t, 0);
            }
        }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if !self.released {
            self.let_go(After::Resume);
        }
    }
}
