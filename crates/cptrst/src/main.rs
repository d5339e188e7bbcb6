//! `cptrst`: the command-line tool of cptrst, in the style of `criu dump` /
//! `criu restore` / `crit`.
//!
//! ```text
//! cptrst checkpoint PID [-o FILE] [--kill|--resume]
//! ```

mod checkpoint;
mod dev;
mod stop;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cptrst COMMAND [ARGS]

commands:
  checkpoint PID [-o FILE] [--kill|--resume]
        stop the process tree rooted at PID and dump it into FILE (default:
        standard output). Afterwards the tree is left stopped (SIGSTOP), or
        killed (--kill), or let run on (--resume).
";

/// An error for the user: what failed, and the exit status to return.
#[derive(Debug)]
pub struct Failure {
    msg: String,
    status: u8,
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("checkpoint") => checkpoint::main(&args[1..]),
        Some("-h") | Some("--help") | Some("help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(Failure::usage(format!("unknown command '{other}'"))),
        None => Err(Failure::usage("no command given")),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("cptrst: {}", f.msg);
            if f.status == 2 {
                eprint!("{USAGE}");
            }
            ExitCode::from(f.status)
        }
    }
}
