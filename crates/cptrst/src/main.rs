//! `cptrst`: the command-line tool of cptrst, in the style of `criu dump` /
//! `criu restore` / `crit`.
//!
//! ```text
//! cptrst checkpoint PID [-o FILE] [--kill|--resume] [--stats FILE] [--stop-timeout S]
//!                   [--live [--rounds N] [--downtime-target MS]]
//! cptrst restart [-i FILE|-] [--detach] [--skip-files] [--pid-wait S]
//!                [--allow-changed-files] [--as-invoker] [--inherit-fd FD=PATH|FD=fd:M]...
//! cptrst inspect FILE|- [--json] [--page ADDR]
//! cptrst eclone --pid N[,M,...] [--] COMMAND [ARGS...]
//! ```

mod checkpoint;
mod eclone_cmd;
mod inspect;
mod live;
mod plan;
mod restart;
mod restore_files;
mod stop;

use cptrst::dev;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cptrst COMMAND [ARGS]

commands:
  checkpoint PID [-o FILE] [--kill|--resume] [--stats FILE] [--stop-timeout SECONDS]
             [--live [--rounds N] [--downtime-target MS]]
        stop the process tree rooted at PID and dump it into FILE (default:
        standard output). Afterwards the tree is left stopped (SIGSTOP), or
        killed (--kill: the tool returns once the killed tasks have exited),
        or let run on (--resume). --stats writes timings (JSON: freezing,
        dump and frozen time in microseconds) to FILE. A tree that does not
        stop within --stop-timeout (default 30, 1 to 3600) is let go
        (ETIMEDOUT); one with a vfork parent is refused (EOPNOTSUPP).
        --live copies the memory while the tree runs, in rounds (each one
        copies what the tree wrote during the last: soft-dirty pages),
        then stops it for good and writes only the rest, with everything
        else, into the same image: the tree is stopped for less time.
        It stops for good once the pages left would take at most
        --downtime-target ms to write at round 1's rate (default 100,
        0 to 3600000), after --rounds rounds (default 8, 1 to 64), or
        when a round's dirty pages do not shrink below 90 % of the last
        one's. It prints one stats line on stderr; --stats adds rounds,
        live_pages, final_pages, prev_pages, final_stop_us and round_pages
        (frozen_us: every stop, summed).
  restart [-i FILE|-] [--detach] [--skip-files] [--pid-wait SECONDS]
          [--allow-changed-files] [--as-invoker] [--inherit-fd FD=PATH|FD=fd:M]...
        restore the process tree checkpointed in FILE (default: standard
        input, e.g. a pipe from `cptrst checkpoint PID --kill`) at its pids
        (the root at pid 1 of a new pid namespace if it had one): children,
        threads, zombies, sessions and process groups, every open fd (files,
        directories, devices, pipes, FIFOs, memfds, unlinked files), cwd,
        root and umask, opened as the invoking user. Fds 0-2 that were
        outside the tree (a terminal, a pipe or socket of the parent) get
        this tool's; any other such fd needs --inherit-fd FD=PATH (opened
        with its flags) or FD=fd:M (this tool's fd M), for that fd in every
        task. A file whose size or type changed since the checkpoint is
        refused (ESTALE) unless --allow-changed-files (mappings too). Waits
        for the root and exits with its status, or with --detach prints its
        pid and exits. --skip-files restores no fd but 0-2 (it opens
        nothing by path; memfds and unlinked files are still re-created for
        the mappings of them). A pid of the tree still held by a zombie or an exiting
        task is waited for up to --pid-wait seconds (default 10, 0 to 3600).
        Each task gets the credentials of the image (uids, gids, groups,
        capabilities, securebits, no_new_privs) if the invoker could set them
        itself with setresuid/setgroups/capset/prctl (root can restore any;
        an unprivileged user only its own); an image that asks for more is
        refused (EPERM, naming the task and the credential) unless
        --as-invoker, which restores every task with the invoker's
        credentials instead (as images before 1.5 are).
  inspect FILE|- [--json] [--page ADDR]
        validate an image and print its tasks (as a table and as a tree),
        registers, open files, credentials, signal dispositions, pending
        signals, timers and resource limits, address spaces and page
        counts (--json for scripts);
        --page writes the content of the page at ADDR as stored in the
        image. A bad image gives exit status 1 and names the record and
        byte offset.
  eclone --pid N[,M,...] [--] COMMAND [ARGS...]
        run COMMAND with chosen pids, outermost pid namespace first: the last
        one is its pid in its own namespace. More pids than the caller has
        namespace levels create new pid namespaces (a pid of 1 makes COMMAND
        the new namespace's init; otherwise an init is started for it).
        Waits for COMMAND and exits with its status.
";

pub use cptrst::Failure;

fn main() -> ExitCode {
    // Output into a closed pipe (`cptrst inspect IMG | head`) ends the
    // tool quietly, as for any filter, instead of a panic on EPIPE.
    // `checkpoint` ignores SIGPIPE again: it reports EPIPE itself.
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("checkpoint") => checkpoint::main(&args[1..]),
        Some("eclone") => eclone_cmd::main(&args[1..]),
        Some("inspect") => inspect::main(&args[1..]),
        Some("restart") => restart::main(&args[1..]),
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
