//! An entry's path, cleaned before anything is written: point 1 of the module docs of
//! `unpack.rs`. A leading `/` is stripped (and reported), `.` and empty components are
//! dropped, a `..` component refuses the entry, and a path or a name longer than Linux
//! allows is refused too. Nothing here touches the file system.

use crate::error::{Error, Result};

/// Linux limits: a whole path, and one name in it.
pub(super) const PATH_MAX: usize = 4096;
const NAME_MAX: usize = 255;

/// A cleaned entry path: its components, and the path as text for messages.
pub(crate) struct CleanPath<'a> {
    pub(crate) comps: Vec<&'a [u8]>,
    pub(crate) shown: String,
}

impl CleanPath<'_> {
    pub(crate) fn key(&self) -> Vec<u8> {
        self.comps.join(&b'/')
    }
    pub(crate) fn parent_key(&self) -> Vec<u8> {
        self.comps[..self.comps.len().saturating_sub(1)].join(&b'/')
    }
    pub(crate) fn name(&self) -> &[u8] {
        self.comps.last().copied().unwrap_or(b".")
    }
}

/// Clean an archive path lexically (see the module docs). `stripped` tells whether a leading `/`
/// was removed.
pub(crate) fn clean_path(raw: &[u8]) -> Result<(CleanPath<'_>, bool)> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    if raw.len() > PATH_MAX {
        return Err(Error::PathTooLong { path: shorten(&shown) });
    }
    if raw.contains(&0) {
        return Err(Error::UnsafeEntry { path: shown, why: "its name contains a NUL byte".into() });
    }
    let stripped = raw.first() == Some(&b'/');
    let mut comps = Vec::new();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => {
                return Err(Error::UnsafeEntry {
                    path: shown,
                    why: "it contains a `..` component that could point outside the root filesystem".into(),
                })
            }
            c if c.len() > NAME_MAX => return Err(Error::PathTooLong { path: shorten(&shown) }),
            c => comps.push(c),
        }
    }
    Ok((CleanPath { comps, shown }, stripped))
}

/// Very long paths are cut in messages.
pub(super) fn shorten(s: &str) -> String {
    if s.len() <= 120 {
        return s.to_string();
    }
    let mut end = 100;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_rules() {
        let (p, s) = clean_path(b"./bin//sh").unwrap();
        assert_eq!(p.comps, vec![&b"bin"[..], &b"sh"[..]]);
        assert!(!s);
        let (p, s) = clean_path(b"/etc/passwd").unwrap();
        assert_eq!(p.key(), b"etc/passwd");
        assert!(s);
        assert!(matches!(clean_path(b"a/../../b"), Err(Error::UnsafeEntry { .. })));
        assert!(matches!(clean_path(&[b'a'; 300]), Err(Error::PathTooLong { .. })));
        let long: Vec<u8> = b"abc/".repeat(1100);
        assert!(matches!(clean_path(&long), Err(Error::PathTooLong { .. })));
        assert!(clean_path(b"./").unwrap().0.comps.is_empty());
    }
}
