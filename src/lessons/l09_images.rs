//! Lesson 9: images and layers (OCI images, overlayfs).
//!
//! PLACEHOLDER: this file holds the slot of lesson 9 while the lesson is written
//! elsewhere; it will be replaced entirely. One step, no action, no check.

use crate::course::{Ctx, Failure, Lesson, Step};

pub fn lesson() -> Lesson {
    Lesson {
        number: 9,
        name: "images",
        needs_rootfs: false,
        steps: vec![Step { id: "overlay", shell: &[], key: &[], run: overlay }],
    }
}

/// PLACEHOLDER: nothing is done yet.
fn overlay(_ctx: &mut Ctx) -> Result<(), Failure> {
    Ok(())
}
