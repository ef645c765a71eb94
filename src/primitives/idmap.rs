//! User namespace id maps: which uid outside a uid inside really is.
//!
//! A new user namespace starts with no mapping: every id inside shows as 65534
//! (`nobody`). A process outside with the right privileges writes one line to
//! `/proc/PID/uid_map` and `/proc/PID/gid_map`: "inside outside count". The kernel
//! accepts each file only once.

use super::error::Result;
use super::kernel::Kernel;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

impl IdMap {
    pub fn line(&self) -> String {
        format!("{} {} {}\n", self.inside, self.outside, self.count)
    }
}

/// Write the same map for users and groups of process `pid`.
pub fn write_maps(k: &dyn Kernel, pid: i32, map: IdMap) -> Result<()> {
    k.write_file(&format!("/proc/{pid}/uid_map"), &map.line())?;
    k.write_file(&format!("/proc/{pid}/gid_map"), &map.line())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::Fake;

    #[test]
    fn uid_map_then_gid_map() {
        let fake = Fake::new();
        write_maps(&fake, 42, IdMap { inside: 0, outside: 100000, count: 1 }).unwrap();
        assert_eq!(
            fake.calls(),
            vec!["write(\"/proc/42/uid_map\", \"0 100000 1\\n\")", "write(\"/proc/42/gid_map\", \"0 100000 1\\n\")"]
        );
    }
}
