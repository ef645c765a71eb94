//! learnctr: a course that teaches how containers work by building one.
//!
//! `cli` parses the command line and dispatches; `course` runs lessons; `lessons`
//! holds one file per lesson; `primitives` is the only code that talks to the kernel;
//! `host` keeps the host clean (journal, cleanup) and checks it (doctor).

mod cli;
mod course;
mod host;
mod lessons;
mod primitives;
mod rootfs;

fn main() {
    std::process::exit(cli::main());
}
