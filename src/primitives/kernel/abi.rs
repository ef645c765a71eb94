//! The kernel's own structures and numbers that `libc` does not define, laid out as
//! the kernel reads them (`#[repr(C)]`). Plain data: no call is made here.

/// `struct clone_args` of clone3(2), as the kernel defines it (version 2, 88 bytes).
#[repr(C)]
#[derive(Default)]
pub struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

// bpf(2): the two commands and the program and attach types learnctr uses.
pub const BPF_PROG_LOAD: libc::c_long = 5;
pub const BPF_PROG_ATTACH: libc::c_long = 8;
pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
pub const BPF_CGROUP_DEVICE: u32 = 6;
pub const BPF_F_ALLOW_MULTI: u32 = 2;

/// The `BPF_PROG_LOAD` part of `union bpf_attr` (the fields up to
/// expected_attach_type; the kernel takes a shorter struct as zero beyond it).
#[repr(C)]
#[derive(Default)]
pub struct ProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; 16],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`.
#[repr(C)]
pub struct ProgAttachAttr {
    pub target_fd: u32,
    pub attach_bpf_fd: u32,
    pub attach_type: u32,
    pub attach_flags: u32,
    pub replace_bpf_fd: u32,
}

/// `struct mount_attr` of mount_setattr(2) (32 bytes).
#[repr(C)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

pub const MOUNT_ATTR_RDONLY: u64 = 1;
pub const OPEN_TREE_CLONE: libc::c_uint = 1;

/// capset(2)'s header: version 3 means two 32-bit halves per set.
#[repr(C)]
pub struct CapHeader {
    pub version: u32,
    pub pid: i32,
}

/// One 32-bit half of the three sets capset(2) takes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CapData {
    pub effective: u32,
    pub permitted: u32,
    pub inheritable: u32,
}

pub const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

// keyctl(2) and ioprio_set(2) numbers.
pub const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
pub const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
pub const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
pub const IOPRIO_WHO_PROCESS: libc::c_long = 1;
