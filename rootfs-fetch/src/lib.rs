//! rootfs-fetch: get a root filesystem for a container, safely.
//!
//! A container's `/` is an ordinary directory on the host (its "root filesystem"). This crate
//! gets one and keeps it under `/var/lib/learnctr/rootfs/<name>`:
//!
//! * **Alpine**: the pinned Alpine minirootfs tarball, downloaded (`download.rs`), checked
//!   against a pinned SHA-256 (`alpine.rs`) before anything is unpacked, cached;
//! * **BusyBox**: built offline from the host's static `busybox` (`busybox.rs`);
//! * **imported**: any `.tar`, `.tar.gz` or directory, e.g. `docker export` output
//!   (`import_export.rs`), and exported back to one `.tar.gz` for offline classrooms.
//!
//! Every tarball goes through `unpack.rs`, which never writes outside its target, and every
//! change is made under a temporary name and renamed into place (`fsutil.rs`), so a failure
//! at any point leaves nothing half-done.
//!
//! ```no_run
//! use rootfs_fetch::{Preference, Store};
//! let rootfs = Store::system().progress(true).ensure(Preference::Any)?;
//! println!("using {} ({}) at {}", rootfs.name, rootfs.source.as_str(), rootfs.path.display());
//! # Ok::<(), rootfs_fetch::Error>(())
//! ```

mod alpine;
mod busybox;
mod download;
mod error;
mod fsutil;
mod import_export;
mod layer;
mod sources;
mod store;
mod stream;
pub mod unpack;

pub use alpine::{host_arch, AlpineRelease, ALPINE_CDN, ALPINE_VERSION, SHA256_AARCH64, SHA256_X86_64};
pub use busybox::{is_static_elf, REQUIRED_APPLETS};
pub use error::{render, template, Error, Note, MESSAGES_EN};
pub use layer::{decompress_to, hex, scan_layer, EntryKind, Hashing, LayerEntry, LayerScan};
pub use sources::validate_name;
pub use store::{Preference, Rootfs, RootfsInfo, SourceKind, Store};
pub use unpack::{apply_layer, unpack_layer_for_overlay, UnpackReport};
