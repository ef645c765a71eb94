//! The lessons, one file each. A lesson reads like its text: a list of steps, each
//! calling named primitives, then observing and checking what the kernel now says.

mod common;
mod image_steps;
pub mod l01_namespaces;
pub mod l02_chroot;
pub mod l03_pivot_root;
pub mod l04_proc_dev_sys;
pub mod l05_cgroups;
pub mod l06_capabilities;
pub mod l07_network;
pub mod l08_bundle;
pub mod l09_images;
pub mod l10_finale;
pub mod l11_engines;
mod local_registry;
mod podman;
mod recipes;
mod side_by_side;

use crate::course::Lesson;

/// The course has eleven lessons; this is how many exist.
pub const PLANNED: u32 = 11;

/// The name of lesson `number` (what progress is kept by).
pub fn name(number: u32) -> Option<&'static str> {
    get(number).map(|l| l.name)
}

/// The lesson with this number, if it has been written.
pub fn get(number: u32) -> Option<Lesson> {
    match number {
        1 => Some(l01_namespaces::lesson()),
        2 => Some(l02_chroot::lesson()),
        3 => Some(l03_pivot_root::lesson()),
        4 => Some(l04_proc_dev_sys::lesson()),
        5 => Some(l05_cgroups::lesson()),
        6 => Some(l06_capabilities::lesson()),
        7 => Some(l07_network::lesson()),
        8 => Some(l08_bundle::lesson()),
        9 => Some(l09_images::lesson()),
        10 => Some(l10_finale::lesson()),
        11 => Some(l11_engines::lesson()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::course::texts;
    use crate::i18n::Lang;

    /// A `{{key}}` remark of a shell equivalent is a text of the lesson in every language.
    #[test]
    fn every_remark_of_a_shell_equivalent_is_a_text() {
        for number in 1..=super::PLANNED {
            let lesson = super::get(number).unwrap();
            for lang in Lang::ALL {
                let text = texts::lesson(lang, number).unwrap();
                for line in lesson.steps.iter().flat_map(|s| s.shell.iter()) {
                    let shown = text.remarks(line);
                    assert!(!shown.contains('⟦'), "lesson {number} in {}: {shown}", lang.code());
                }
            }
        }
    }
}
