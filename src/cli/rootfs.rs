//! `learnctr rootfs …`: the root filesystems the lessons run on, kept in a store
//! (see `course_rootfs.rs` and the `rootfs-fetch` crate).

use std::path::PathBuf;

use clap::Subcommand;

use super::require_root;
use crate::course::Failure;
use crate::course_rootfs;

#[derive(Subcommand)]
pub enum RootfsCommand {
    /// Get one: alpine (downloaded, checked), busybox (built offline from a static
    /// busybox); without a kind, Alpine when the network answers, else BusyBox.
    Fetch {
        kind: Option<String>,
        /// Build the BusyBox rootfs from this static busybox binary.
        #[arg(long, value_name = "PATH")]
        busybox: Option<PathBuf>,
    },
    /// The root filesystems on this machine.
    List,
    /// Import a .tar, .tar.gz (such as `docker export` output) or a directory.
    Import {
        source: PathBuf,
        #[arg(long)]
        name: Option<String>,
    },
    /// Write one .tar.gz that a whole class can import offline.
    Export {
        file: PathBuf,
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove a root filesystem.
    Remove { name: String },
}

/// Run one: all but `list` change the store, as root.
pub fn run(command: RootfsCommand, progress: bool) -> Result<(), Failure> {
    if !matches!(command, RootfsCommand::List) {
        require_root("learnctr rootfs")?;
    }
    match command {
        RootfsCommand::Fetch { kind, busybox } => course_rootfs::fetch(kind.as_deref(), busybox.as_deref(), progress),
        RootfsCommand::List => course_rootfs::list(),
        RootfsCommand::Import { source, name } => course_rootfs::import(&source, name.as_deref()),
        RootfsCommand::Export { file, name } => course_rootfs::export(&file, name.as_deref()),
        RootfsCommand::Remove { name } => course_rootfs::remove(&name),
    }
}
