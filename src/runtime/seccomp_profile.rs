//! `linux.seccomp` of config.json, compiled with the same code as lesson 6's profiles.
//!
//! Supported: a default action and rules that all share one other action (an allow
//! list such as Docker's, or a deny list), without argument conditions. Anything else
//! is refused with a sentence rather than applied differently than written.

use crate::primitives::seccomp::{self, Profile};
use crate::primitives::{Error, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<serde_json::Value> {
    Ok(match a {
        LinuxSeccompAction::ScmpActAllow => serde_json::json!("allow"),
        LinuxSeccompAction::ScmpActErrno => serde_json::json!({ "errno": errno.unwrap_or(libc::EPERM as u32) }),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => serde_json::json!("kill_thread"),
        LinuxSeccompAction::ScmpActKillProcess => serde_json::json!("kill_process"),
        LinuxSeccompAction::ScmpActTrap => serde_json::json!("trap"),
        LinuxSeccompAction::ScmpActLog => serde_json::json!("log"),
        other => return Err(Error::Child(format!("seccomp action {other:?} is not supported by learnctr"))),
    })
}

/// The compiled profile, or `None` when it would allow everything (nothing to install).
pub fn compile(s: &LinuxSeccomp) -> Result<Option<Profile>> {
    let default = action(s.default_action(), s.default_errno_ret())?;
    let mut rule_action = None;
    let mut names = Vec::new();
    for rule in s.syscalls().as_deref().unwrap_or(&[]) {
        if rule.args().as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(Error::Child("seccomp rules with argument conditions are not supported by learnctr".into()));
        }
        let a = action(rule.action(), rule.errno_ret())?;
        if rule_action.as_ref().is_some_and(|r| *r != a) {
            return Err(Error::Child("seccomp rules with different actions are not supported by learnctr".into()));
        }
        if a == default {
            continue;
        }
        rule_action = Some(a);
        names.extend(rule.names().iter().cloned());
    }
    let Some(filter_action) = rule_action else {
        // Only a default action: one that allows everything needs no filter.
        if default == serde_json::json!("allow") {
            return Ok(None);
        }
        return Err(Error::Child("a seccomp profile that denies every call would stop the container at once".into()));
    };
    seccomp::compile_profile("config.json", &names, default, filter_action).map(Some)
}
