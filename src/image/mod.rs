//! OCI images: what `docker pull` brings, what `docker commit` makes, and how an engine turns
//! one into the bundle a runtime runs. Lesson 9 is built from these files; read them in this
//! order:
//!
//! 1. `reference.rs`: `alpine`, `127.0.0.1:5000/demo:1`: which registry, which name, which tag.
//! 2. `store.rs`: the images on this machine, one OCI image layout, every blob named by its
//!    SHA-256 and checked before it is kept.
//! 3. `media.rs`: the documents of an image (index, manifest, config, layers) by media type.
//! 4. `check.rs`: what an image must be before it gets a name (its layers' diff_ids, no
//!    hostile entry); layers are applied by rootfs-fetch's `apply_layer`.
//! 5. `registry.rs`: the distribution API by hand: `/v2/`, a token, manifests, blobs; a push.
//! 6. `build.rs`: a layer from a directory, an image from layers, `commit` from an overlay
//!    upper directory (its whiteouts back to `.wh.` entries).
//! 7. `bundle.rs`: an image to a bundle: layers applied in order, `config.json` from the
//!    runtime's defaults, the image's config and the user's flags.
//! 8. `archive.rs`: import and export of OCI layouts and `docker save` tarballs.
//! 9. `inspect.rs`: an image looked at like `dive`: each layer's files, the wasted bytes.

pub mod archive;
pub mod build;
pub mod bundle;
pub mod check;
pub mod inspect;
pub mod layers;
pub mod media;
pub mod reference;
pub mod registry;
pub mod store;

pub use reference::Reference;

use crate::course::Failure;
use crate::i18n::tf;
use sha2::{Digest as _, Sha256};

/// A failure in the learner's language, from a key of `interface.txt`'s `image.` part.
pub fn fail(key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> Failure {
    Failure::new(tf(key, args))
}

/// `sha256:` and the hex SHA-256 of `bytes`: a blob's name.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", rootfs_fetch::hex(&Sha256::digest(bytes)))
}

/// Parse a reference the learner typed; a bad one is a usage error (exit 2).
pub fn parse_reference(text: &str) -> Result<Reference, Failure> {
    Reference::parse(text).map_err(Failure::usage)
}
