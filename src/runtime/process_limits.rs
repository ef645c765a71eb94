//! rlimits, oom_score_adj and I/O priority of a process: step 9 of `init.rs` for the
//! container's init, and the same for a process `learnctr exec` starts.

use crate::primitives::{Error, Kernel, Result};

/// Apply `process.rlimits`, `process.oomScoreAdj` and `process.ioPriority`.
pub fn apply(k: &dyn Kernel, process: &oci_spec::runtime::Process) -> Result<()> {
    for rl in process.rlimits().as_deref().unwrap_or(&[]) {
        let name = format!("{:?}", rl.typ());
        let resource = rlimit_number(&name).ok_or_else(|| Error::Child(format!("unknown rlimit {name}")))?;
        k.setrlimit(resource, &name, rl.soft(), rl.hard())?;
    }
    if let Some(adj) = process.oom_score_adj() {
        k.write_file("/proc/self/oom_score_adj", &adj.to_string())?;
    }
    if let Some(io) = process.io_priority() {
        let class = match format!("{:?}", io.class()).as_str() {
            "IoprioClassRt" => 1,
            "IoprioClassBe" => 2,
            _ => 3,
        };
        k.ioprio_set(class, io.priority() as u32)?;
    }
    Ok(())
}

/// The number of an rlimit, by the name oci-spec gives it (`RlimitNofile`).
fn rlimit_number(name: &str) -> Option<i32> {
    let table: [(&str, i32); 16] = [
        ("RlimitCpu", libc::RLIMIT_CPU as i32),
        ("RlimitFsize", libc::RLIMIT_FSIZE as i32),
        ("RlimitData", libc::RLIMIT_DATA as i32),
        ("RlimitStack", libc::RLIMIT_STACK as i32),
        ("RlimitCore", libc::RLIMIT_CORE as i32),
        ("RlimitRss", libc::RLIMIT_RSS as i32),
        ("RlimitNproc", libc::RLIMIT_NPROC as i32),
        ("RlimitNofile", libc::RLIMIT_NOFILE as i32),
        ("RlimitMemlock", libc::RLIMIT_MEMLOCK as i32),
        ("RlimitAs", libc::RLIMIT_AS as i32),
        ("RlimitLocks", libc::RLIMIT_LOCKS as i32),
        ("RlimitSigpending", libc::RLIMIT_SIGPENDING as i32),
        ("RlimitMsgqueue", libc::RLIMIT_MSGQUEUE as i32),
        ("RlimitNice", libc::RLIMIT_NICE as i32),
        ("RlimitRtprio", libc::RLIMIT_RTPRIO as i32),
        ("RlimitRttime", libc::RLIMIT_RTTIME as i32),
    ];
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}
