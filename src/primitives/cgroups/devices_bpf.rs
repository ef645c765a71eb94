//! Device control on cgroup v2: an eBPF program, because v2 has no `devices.allow`.
//!
//! On v1 the devices controller takes rules as text (`c 1:3 rwm` into
//! `devices.allow`). cgroup v2 dropped that file: instead the kernel runs a small
//! program of type `BPF_PROG_TYPE_CGROUP_DEVICE`, attached to the cgroup, every time a
//! process in it opens or creates (`mknod`) a device node. The program reads
//! `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }` and returns
//! 1 (allow) or 0 (deny: the open fails with EPERM). runc and crun build the same kind
//! of program from the same rules; learnctr writes its few instructions by hand here,
//! because this is what the lesson is about.
//!
//! The rules keep v1's meaning, so both versions behave alike: a new cgroup allows
//! every device; an `a` rule (all devices) resets that default to allow or deny and
//! forgets the rules before it; of the other rules, the last one that matches wins.
//! An allow rule matches when it grants *every* access asked for; a deny rule when it
//! forbids *any* of them.

use super::super::kernel::{BpfInsn, Kernel};
use super::super::Result;
use super::Error;

/// `access_type`'s low 16 bits: the kind of device.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
/// Its high 16 bits: what is asked (mknod, read, write).
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// One rule, parsed from v1's text form `TYPE MAJOR:MINOR ACCESS` (`*` for any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// `b`, `c`, or `a` for all.
    pub kind: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// ACC_* bits.
    pub access: i32,
}

impl Rule {
    pub fn parse(allow: bool, text: &str) -> Option<Rule> {
        let mut words = text.split_whitespace();
        let kind = words.next()?.chars().next()?;
        if !"abc".contains(kind) {
            return None;
        }
        let number = |s: &str| if s == "*" { Some(None) } else { s.parse().ok().map(Some) };
        let (major, minor) = match words.next() {
            Some(numbers) => {
                let (a, b) = numbers.split_once(':')?;
                (number(a)?, number(b)?)
            }
            None => (None, None),
        };
        let mut access = 0;
        for c in words.next().unwrap_or("rwm").chars() {
            access |= match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => return None,
            };
        }
        Some(Rule { allow, kind, major, minor, access })
    }
}

// The few eBPF instructions the program needs (linux/bpf.h, linux/bpf_common.h).
const LDX_MEM_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const ALU32_AND_K: u8 = 0x54; // dst &= imm
const ALU32_RSH_K: u8 = 0x74; // dst >>= imm
const ALU32_MOV_X: u8 = 0xbc; // dst = src
const ALU64_MOV_K: u8 = 0xb7; // dst = imm
const JMP_JNE_K: u8 = 0x55; // if dst != imm: skip `off` instructions
const JMP_JEQ_K: u8 = 0x15; // if dst == imm: skip `off`
const JMP_EXIT: u8 = 0x95; // return r0

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn { code, regs: (src << 4) | dst, off, imm }
}

/// The program for `rules`, in order. Registers: r1 the context, then r2 the kind of
/// device, r3 the access asked, r4 the major and r5 the minor number.
pub fn program(rules: &[Rule]) -> Vec<BpfInsn> {
    let reset = rules.iter().rposition(|r| r.kind == 'a');
    let default_allow = reset.map(|i| rules[i].allow).unwrap_or(true);
    let after_reset = &rules[reset.map(|i| i + 1).unwrap_or(0)..];
    let mut prog = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    // The last rule that matches wins: check them from the last one back.
    for rule in after_reset.iter().rev() {
        // Each test jumps to the end of this rule's block when it does not match;
        // the offsets are filled in once the block's length is known.
        let mut block: Vec<(BpfInsn, bool)> = Vec::new();
        let kind = if rule.kind == 'b' { DEV_BLOCK } else { DEV_CHAR };
        block.push((insn(JMP_JNE_K, 2, 0, 0, kind), true));
        if rule.access != ACC_ALL {
            block.push((insn(ALU32_MOV_X, 1, 3, 0, 0), false));
            if rule.allow {
                // Anything asked beyond what the rule grants: not this rule.
                block.push((insn(ALU32_AND_K, 1, 0, 0, !rule.access & ACC_ALL), false));
                block.push((insn(JMP_JNE_K, 1, 0, 0, 0), true));
            } else {
                // Nothing asked that the rule forbids: not this rule.
                block.push((insn(ALU32_AND_K, 1, 0, 0, rule.access), false));
                block.push((insn(JMP_JEQ_K, 1, 0, 0, 0), true));
            }
        }
        if let Some(major) = rule.major {
            block.push((insn(JMP_JNE_K, 4, 0, 0, major as i32), true));
        }
        if let Some(minor) = rule.minor {
            block.push((insn(JMP_JNE_K, 5, 0, 0, minor as i32), true));
        }
        block.push((insn(ALU64_MOV_K, 0, 0, 0, i32::from(rule.allow)), false));
        block.push((insn(JMP_EXIT, 0, 0, 0, 0), false));
        let len = block.len();
        for (i, (mut ins, jumps)) in block.into_iter().enumerate() {
            if jumps {
                ins.off = (len - i - 1) as i16;
            }
            prog.push(ins);
        }
    }
    prog.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(default_allow)));
    prog.push(insn(JMP_EXIT, 0, 0, 0, 0));
    prog
}

/// Load the program for `rules` and attach it to the cgroup v2 directory `dir`
/// (`bpf(BPF_PROG_LOAD)`, `bpf(BPF_PROG_ATTACH)`). The cgroup keeps the program: its
/// fd is closed here, and the kernel drops it when the cgroup is removed.
pub fn attach(k: &dyn Kernel, dir: &std::path::Path, rules: &[Rule]) -> Result<()> {
    let summary = rules
        .iter()
        .map(|r| {
            let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "*".into());
            format!("{} {} {}:{}", if r.allow { "allow" } else { "deny" }, r.kind, n(r.major), n(r.minor))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let prog = k.bpf_prog_load(summary, program(rules))?;
    let cgroup = match k.open(&dir.display().to_string()) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = k.close(prog);
            return Err(e);
        }
    };
    let attached = k.bpf_prog_attach(cgroup, prog);
    k.close(cgroup)?;
    k.close(prog)?;
    attached.map(drop).map_err(|e| match e.errno() {
        Some(nix::errno::Errno::EPERM | nix::errno::Errno::EINVAL) => Error::Child(format!(
            "cannot attach the device filter to {} ({e}): this kernel lacks eBPF cgroup device programs",
            dir.display()
        )),
        _ => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter of the instructions `program` emits, to check its meaning.
    fn run(prog: &[BpfInsn], kind: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [((access << 16) | kind) as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = &prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = u64::from(ctx[i.off as usize / 4]),
                ALU32_AND_K => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
                ALU32_RSH_K => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
                ALU32_MOV_X => r[dst] = r[src] as u32 as u64,
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                JMP_JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JMP_JEQ_K if r[dst] == i.imm as i64 as u64 => pc += i.off as usize,
                JMP_JNE_K | JMP_JEQ_K => {}
                JMP_EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    fn rules(list: &[(bool, &str)]) -> Vec<Rule> {
        list.iter().map(|(allow, text)| Rule::parse(*allow, text).unwrap()).collect()
    }

    #[test]
    fn deny_all_then_the_defaults() {
        let p = program(&rules(&[(false, "a *:* rwm"), (true, "c 1:3 rwm"), (true, "c 136:* rw")]));
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 136, 7), 1, "a pty");
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 136, 7), 0, "no mknod of a pty");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 7, 0), 0, "a loop disk");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 4, 1), 0, "tty1");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 1, 3), 0, "b 1:3 is not c 1:3");
    }

    #[test]
    fn the_last_matching_rule_wins_and_no_rules_allow_all() {
        let p = program(&rules(&[(true, "c 1:3 rwm"), (false, "c 1:3 w")]));
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 3), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 1, 3), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 0, "any denied access denies");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 0), 1, "no `a` rule: allowed as in a new v1 cgroup");
        let none = program(&[]);
        assert_eq!(run(&none, DEV_BLOCK, ACC_WRITE, 8, 0), 1);
    }

    #[test]
    fn rules_are_parsed_as_v1_writes_them() {
        assert_eq!(
            Rule::parse(true, "c 10:200 rwm"),
            Some(Rule { allow: true, kind: 'c', major: Some(10), minor: Some(200), access: ACC_ALL })
        );
        assert_eq!(Rule::parse(false, "a").map(|r| r.kind), Some('a'));
        assert_eq!(Rule::parse(true, "b *:* m").map(|r| (r.major, r.access)), Some((None, ACC_MKNOD)));
        assert_eq!(Rule::parse(true, "x 1:2 r"), None);
        assert_eq!(Rule::parse(true, "c 1:2 q"), None);
    }

    #[test]
    fn loading_and_attaching_are_two_traced_calls() {
        let fake = crate::primitives::Fake::new();
        attach(&fake, std::path::Path::new("/sys/fs/cgroup/learnctr/c1"), &rules(&[(false, "a")])).unwrap();
        let calls = fake.calls();
        assert!(calls[0].starts_with("bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_CGROUP_DEVICE"), "{calls:?}");
        assert!(calls[2].starts_with("bpf(BPF_PROG_ATTACH, {target_fd=3"), "{calls:?}");
    }
}
