//! Reading `/proc/PID/mountinfo`: the kernel's own list of a mount namespace's mounts.
//!
//! Each line: `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
//! — ids, device, root of the mount, mount point, options, optional fields (the
//! propagation: `shared:N`, `master:N`), then after ` - ` the type, source and
//! super-block options. See proc(5).

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The filesystem's device, `major:minor`.
    pub device: String,
    /// The directory of that filesystem the mount shows (`/` for the whole of it; a
    /// bind mount of a subdirectory names the subdirectory).
    pub root: String,
    pub mount_point: String,
    pub options: Vec<String>,
    /// `shared:1`, `master:2`...; empty for a private mount.
    pub propagation: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// The filesystem's own options (after the source): for cgroup v1, its controllers.
    pub super_options: Vec<String>,
}

impl Mount {
    pub fn read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }
}

pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (head, tail) = line.split_once(" - ")?;
    let fields: Vec<&str> = head.split_whitespace().collect();
    let rest: Vec<&str> = tail.split_whitespace().collect();
    Some(Mount {
        device: fields.get(2)?.to_string(),
        root: unescape(fields.get(3)?),
        mount_point: unescape(fields.get(4)?),
        options: fields.get(5)?.split(',').map(str::to_string).collect(),
        propagation: fields.iter().skip(6).map(|s| s.to_string()).collect(),
        fstype: rest.first()?.to_string(),
        source: rest.get(1).map(|s| unescape(s)).unwrap_or_default(),
        super_options: rest.get(2).map(|o| o.split(',').map(str::to_string).collect()).unwrap_or_default(),
    })
}

/// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(n)) => {
                out.push(n);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount that is visible at `point` (the last one mounted there).
pub fn at<'a>(mounts: &'a [Mount], point: &str) -> Option<&'a Mount> {
    mounts.iter().rev().find(|m| m.mount_point == point)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_parsed() {
        let m = parse("36 35 98:0 /mnt1 /mnt\\0402 rw,noatime shared:1 master:2 - ext3 /dev/root rw\n");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].mount_point, "/mnt 2");
        assert_eq!(m[0].propagation, vec!["shared:1", "master:2"]);
        assert_eq!(m[0].fstype, "ext3");
        assert_eq!(m[0].source, "/dev/root");
        assert!(!m[0].read_only());
        let p = parse("1 0 0:1 / / ro - tmpfs t ro\n");
        assert!(p[0].read_only());
        assert!(p[0].propagation.is_empty(), "a private mount has no propagation tags");
        assert_eq!(at(&p, "/").unwrap().fstype, "tmpfs");
    }

    #[test]
    fn our_own_table_parses() {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let own = parse(&text);
        // Every line is a mount: none is dropped for a field the parser did not expect.
        assert_eq!(own.len(), text.lines().count(), "{text}");
        // The table was read through /proc, so a proc filesystem is mounted there.
        assert_eq!(at(&own, "/proc").map(|m| m.fstype.as_str()), Some("proc"), "{text}");
        // The root's type is one the kernel lists (`fuse.sshfs` is fuse's); every device
        // is `major:minor`.
        let root = at(&own, "/").unwrap_or_else(|| panic!("no mount at /: {text}"));
        let known = std::fs::read_to_string("/proc/filesystems").unwrap();
        let root_type = root.fstype.split('.').next().unwrap_or_default();
        assert!(known.lines().any(|l| l.split_whitespace().last() == Some(root_type)), "/ is {}", root.fstype);
        for m in &own {
            let numbers: Vec<&str> = m.device.split(':').collect();
            assert!(numbers.len() == 2 && numbers.iter().all(|n| n.parse::<u32>().is_ok()), "{}", m.device);
        }
        // The ids the parser skips: each mount's is unique, and its parent is in the
        // table, except for the mount at / whose parent lies outside this namespace.
        let ids: Vec<(&str, &str, &str)> = text
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[0], f[1], f[4])
            })
            .collect();
        let mut unique: Vec<&str> = ids.iter().map(|(id, _, _)| *id).collect();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "a mount id appears twice: {text}");
        for (id, parent, point) in &ids {
            assert!(unique.contains(parent) || *point == "/", "mount {id} at {point}: no parent {parent}: {text}");
        }
    }
}
