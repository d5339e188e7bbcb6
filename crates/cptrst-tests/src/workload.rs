//! Starting `cptrst-testprog` workloads and running the `cptrst` tool from
//! the guest tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use cptrst::proc;

/// A running workload, killed when dropped.
pub struct Workload {
    /// The process.
    pub child: Child,
    /// Its JSON ready line.
    pub info: serde_json::Value,
}

impl Workload {
    /// Starts `cptrst-testprog ARGS` and waits for its ready line; for the
    /// `regs`/`fpu` workloads also for the flag its registers are set by.
    pub fn start(args: &[&str]) -> Result<Workload, String> {
        let mut child = Command::new("cptrst-testprog")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start cptrst-testprog: {e}"))?;
        let mut line = String::new();
        let out = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(out).read_line(&mut line).map_err(|e| e.to_string())?;
        let info: serde_json::Value =
            serde_json::from_str(line.trim()).map_err(|e| format!("bad ready line '{line}': {e}"))?;
        let w = Workload { child, info };
        if let Some(flag) = w.info["flag"].as_u64() {
            w.wait_flag(flag)?;
        }
        Ok(w)
    }

    /// The workload's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Polls the flag byte at `addr` in the workload through /proc/PID/mem.
    fn wait_flag(&self, addr: u64) -> Result<(), String> {
        use std::os::unix::fs::FileExt;
        let mem = std::fs::File::open(format!("/proc/{}/mem", self.pid())).map_err(|e| format!("/proc/PID/mem: {e}"))?;
        for _ in 0..5000 {
            let mut b = [0u8; 1];
            if mem.read_at(&mut b, addr).map_err(|e| format!("reading the flag: {e}"))? == 1 && b[0] == 1 {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        Err("the workload never set its flag".into())
    }

    /// Is the process still there (not reaped, not a zombie)?
    pub fn alive(&self) -> bool {
        proc::state(self.pid()).is_some_and(|s| s != 'Z')
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        // The whole tree: children of a tree workload hold our output open.
        for p in proc::descendants(self.pid()) {
            // SAFETY: kill(2) of a process of this test's own workload.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `--stop-timeout` the suites give `cptrst checkpoint` for their
/// trees: a hang bound, not a speed target. The tool's default (30 s) is
/// for a normal machine; a 100-process tree under TCG with KASAN, on a
/// host busy with other guests, can take longer than that to stop.
pub const STOP_TIMEOUT: &str = "600";

/// Runs `cptrst ARGS`, returns its output.
pub fn cptrst(args: &[&str]) -> Output {
    Command::new("cptrst").args(args).output().expect("cannot run cptrst")
}

/// `cptrst checkpoint PID -o FILE` (then leaves it stopped) and `inspect
/// --json FILE`.
pub fn checkpoint_json(pid: i32, file: &str) -> Result<serde_json::Value, String> {
    let o = cptrst(&["checkpoint", &pid.to_string(), "-o", file, "--stop-timeout", STOP_TIMEOUT]);
    if !o.status.success() {
        return Err(format!("cptrst checkpoint failed: {}", String::from_utf8_lossy(&o.stderr)));
    }
    inspect_json(file)
}

/// `cptrst inspect --json FILE`.
pub fn inspect_json(file: &str) -> Result<serde_json::Value, String> {
    let o = cptrst(&["inspect", "--json", file]);
    if !o.status.success() {
        return Err(format!("cptrst inspect failed: {}", String::from_utf8_lossy(&o.stderr)));
    }
    serde_json::from_slice(&o.stdout).map_err(|e| format!("inspect --json: {e}"))
}

/// The page at `addr` as stored in the image `file`.
pub fn image_page(file: &str, addr: u64) -> Option<Vec<u8>> {
    let o = cptrst(&["inspect", file, "--page", &format!("{addr:#x}")]);
    o.status.success().then_some(o.stdout)
}
