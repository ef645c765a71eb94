//! `linux.seccomp` of config.json, compiled with the same code as lesson 6's profiles.
//!
//! Supported:
//! - `defaultAction` (with `defaultErrnoRet`), and rules with the actions allow, errno
//!   (with `errnoRet`; EPERM without), kill, kill_thread, kill_process, trap and log. A
//!   profile whose rules use several actions becomes one filter per action, which the
//!   kernel combines by taking the most restrictive answer;
//! - argument conditions (`args`), with every operator: `==`, `!=`, `<`, `<=`, `>`, `>=`
//!   and masked equality (`value` the mask, `valueTwo` what the masked argument must
//!   equal), each on the whole 64-bit argument; the conditions of one rule must all hold;
//! - `flags`: TSYNC, LOG, SPEC_ALLOW, WAIT_KILLABLE_RECV.
//!
//! Not supported: the actions notify and trace (an error names them), and
//! `listenerPath` (`refuse.rs` refuses it). The rules are compiled for this machine's
//! architecture only (`refuse.rs` says so when `architectures` lists others), and a
//! call it does not have is left out, as runc leaves it out. Anything else is refused
//! with a sentence rather than applied differently than written.

use crate::primitives::seccomp::{self, Profile};
use crate::primitives::{Error, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};

/// A config.json action in seccompiler's JSON, or the sentence that refuses it.
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

/// One argument condition of a rule (`index`, `op`, `value`, `valueTwo`), in
/// seccompiler's JSON.
fn condition(a: &oci_spec::runtime::LinuxSeccompArg) -> Result<serde_json::Value> {
    use oci_spec::runtime::LinuxSeccompOperator as Op;
    let op = match a.op() {
        Op::ScmpCmpEq => serde_json::json!("eq"),
        Op::ScmpCmpNe => serde_json::json!("ne"),
        Op::ScmpCmpLt => serde_json::json!("lt"),
        Op::ScmpCmpLe => serde_json::json!("le"),
        Op::ScmpCmpGt => serde_json::json!("gt"),
        Op::ScmpCmpGe => serde_json::json!("ge"),
        Op::ScmpCmpMaskedEq => serde_json::json!({ "masked_eq": a.value() }),
    };
    let val = if matches!(a.op(), Op::ScmpCmpMaskedEq) { a.value_two().unwrap_or(0) } else { a.value() };
    Ok(serde_json::json!({ "index": a.index(), "type": "qword", "op": op, "val": val }))
}

/// Calls with their argument conditions, in seccompiler's JSON.
type Rules = Vec<(String, Vec<serde_json::Value>)>;

/// The filters to install, in order, for `linux.seccomp`. One filter holds one action
/// besides the default; a profile whose rules use several actions becomes several
/// filters, which the kernel combines by taking the most restrictive answer.
pub fn compile(s: &LinuxSeccomp) -> Result<Vec<Profile>> {
    let default = action(s.default_action(), s.default_errno_ret())?;
    let allow = serde_json::json!("allow");
    let mut groups: Vec<(serde_json::Value, Rules)> = Vec::new();
    for rule in s.syscalls().as_deref().unwrap_or(&[]) {
        let a = action(rule.action(), rule.errno_ret())?;
        if a == default {
            continue;
        }
        let args = rule.args().as_deref().unwrap_or(&[]).iter().map(condition).collect::<Result<Vec<_>>>()?;
        let entries: Vec<(String, Vec<serde_json::Value>)> =
            rule.names().iter().map(|n| (n.clone(), args.clone())).collect();
        match groups.iter_mut().find(|(g, _)| *g == a) {
            Some((_, list)) => list.extend(entries),
            None => groups.push((a, entries)),
        }
    }
    if groups.is_empty() {
        return match default == allow {
            true => Ok(Vec::new()),
            false => {
                Err(Error::Child("a seccomp profile that denies every call would stop the container at once".into()))
            }
        };
    }
    let flags = filter_flags(s);
    let mut filters = Vec::new();
    for (a, rules) in groups {
        // The allow rules take the profile's default; any other action is a deny list
        // on top of "allow".
        let (mismatch, on_match) = if a == allow { (default.clone(), allow.clone()) } else { (allow.clone(), a) };
        let mut filter = seccomp::compile_rules("config.json", &rules, mismatch, on_match)?;
        filter.flags = flags;
        filters.push(filter);
    }
    Ok(filters)
}

/// `linux.seccomp.flags` as the bits of seccomp(2).
fn filter_flags(s: &LinuxSeccomp) -> u32 {
    use oci_spec::runtime::LinuxSeccompFilterFlag as F;
    s.flags()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(|f| match f {
            F::SeccompFilterFlagTsync => 1,
            F::SeccompFilterFlagLog => 2,
            F::SeccompFilterFlagSpecAllow => 4,
            F::SeccompFilterFlagWaitKillableRecv => 32,
        })
        .fold(0, |all, bit| all | bit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seccomp(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn an_allow_list_is_one_filter_and_a_deny_list_with_two_actions_is_two() {
        let allow = seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}));
        assert_eq!(compile(&allow).unwrap().len(), 1);
        let two = seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["unshare"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["keyctl"], "action": "SCMP_ACT_KILL_PROCESS"}]}));
        assert_eq!(compile(&two).unwrap().len(), 2);
    }

    #[test]
    fn argument_conditions_and_flags_are_kept() {
        let with_args = seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}));
        let without = seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO"}]}));
        let (a, b) = (compile(&with_args).unwrap(), compile(&without).unwrap());
        assert!(a[0].program.len() > b[0].program.len(), "the condition is compiled in");
        assert_eq!(a[0].flags, 2 | 4);
        assert_eq!(b[0].flags, 0);
    }

    #[test]
    fn nothing_to_install_and_a_profile_that_denies_everything() {
        let allow_all = seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}));
        assert!(compile(&allow_all).unwrap().is_empty());
        let deny_all = seccomp(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO"}));
        assert!(compile(&deny_all).is_err());
    }
}
