//! learnctr: a course that teaches how containers work by building one.
//!
//! `cli` parses the command line and dispatches; `course` runs lessons; `lessons`
//! holds one file per lesson; `primitives` is the only code that talks to the kernel;
//! `instruments` are the course's measuring tools inside a lesson's container;
//! `host` keeps the host clean (journal, cleanup) and checks it (doctor).

mod cli;
mod course;
mod course_rootfs;
mod host;
mod i18n;
mod image;
mod instruments;
mod lessons;
mod primitives;
mod runtime;
mod shell;
mod tasks;

fn main() {
    // Lesson 6's setuid helper is a copy of this binary under another name: it only
    // prints who it runs as, before anything else (no arguments, no environment read).
    // So does any setuid copy, whatever its name: a learnctr whose real user is not
    // its effective one never runs the course or the runtime for that user.
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let setuid = nix::unistd::getuid() != nix::unistd::geteuid() || nix::unistd::getgid() != nix::unistd::getegid();
    if setuid
        || std::path::Path::new(&argv0).file_name().and_then(|n| n.to_str()) == Some(instruments::attempts::WHOAMI)
    {
        println!("{}", instruments::attempts::whoami_line());
        return;
    }
    std::process::exit(cli::main());
}
