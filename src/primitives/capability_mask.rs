//! A mask of capabilities: 64 bits, one per capability, as `/proc/PID/status` shows
//! them in hex and `capset(2)` takes them. A leaf: it makes no call, so both the
//! kernel layer (to print `capset` in the trace) and `capabilities.rs` use it.

use caps::Capability;
use std::str::FromStr;

/// A mask of capabilities, as in `/proc/PID/status` (hex) and `capset(2)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mask(pub u64);

impl Mask {
    /// From names such as `CAP_KILL` (or `kill`); an unknown name is an error.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> std::result::Result<Mask, String> {
        let mut bits = 0u64;
        for name in names {
            bits |= parse(name.as_ref())?.bitmask();
        }
        Ok(Mask(bits))
    }

    /// From the hex text of `/proc/PID/status` (`000001ffffffffff`).
    pub fn from_hex(hex: &str) -> Option<Mask> {
        u64::from_str_radix(hex.trim(), 16).ok().map(Mask)
    }

    /// The names of the bits set, in bit order; bits this version of the `caps` crate
    /// does not name (a newer kernel's) are shown as `cap_41`.
    pub fn names(self) -> Vec<String> {
        (0..64)
            .filter(|bit| self.0 & (1u64 << bit) != 0)
            .map(|bit| {
                caps::all()
                    .into_iter()
                    .find(|c| u32::from(c.index()) == bit)
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| format!("cap_{bit}"))
            })
            .collect()
    }

    pub fn contains(self, cap: Capability) -> bool {
        self.0 & cap.bitmask() != 0
    }

    /// The capabilities this mask holds (named ones only).
    pub fn capabilities(self) -> Vec<Capability> {
        let mut list: Vec<Capability> = caps::all().into_iter().filter(|c| self.contains(*c)).collect();
        list.sort_by_key(|c| c.index());
        list
    }

    /// A short text: the names, or "all N" when every named capability is in.
    pub fn summary(self) -> String {
        let all = caps::all().len();
        let names = self.names();
        match names.len() {
            0 => "—".to_string(),
            n if n >= all => format!("all {n}"),
            _ => names.join(" "),
        }
    }
}

pub fn parse(name: &str) -> std::result::Result<Capability, String> {
    Capability::from_str(&caps::to_canonical(name)).map_err(|_| format!("unknown capability {name}"))
}
