//! `learnctr update`: new limits for a running container, as runc's `update`. The
//! limits come as `linux.resources` JSON (`--resources FILE`, or `-` for stdin, which
//! containerd's shim uses) and as flags (`--memory`, `--pids-limit`, `--cpu-quota`,
//! ...) on top; they go through the same `resources.rs` as `create`, so a limit this
//! host cannot apply is an error here too.

use super::{load, resources, Rt, RtError};
use crate::primitives::Kernel;
use serde_json::{json, Value};
use std::io::Read;

pub fn update(k: &dyn Kernel, root: &std::path::Path, u: &liboci_cli::Update) -> Rt<()> {
    let c = load(root, &u.container_id)?;
    if c.status(root) == "stopped" {
        return Err(RtError(format!("cannot update container {}: container not running", u.container_id)));
    }
    if c.cgroup_name.is_empty() {
        return Err(RtError(format!(
            "container {} was made by an older learnctr that did not record its cgroup",
            u.container_id
        )));
    }
    if u.l3_cache_schema.is_some() || u.mem_bw_schema.is_some() {
        return Err(RtError("learnctr does not apply Intel RDT (--l3-cache-schema, --mem-bw-schema)".into()));
    }
    let mut r = match &u.resources {
        Some(path) => read_resources(path)?,
        None => json!({}),
    };
    let flags: [(&str, &str, Option<Value>); 12] = [
        ("memory", "limit", u.memory.map(Value::from)),
        ("memory", "reservation", u.memory_reservation.map(Value::from)),
        ("memory", "swap", u.memory_swap.map(Value::from)),
        ("pids", "limit", u.pids_limit.map(Value::from)),
        ("cpu", "period", u.cpu_period.map(Value::from)),
        ("cpu", "quota", u.cpu_quota.map(Value::from)),
        ("cpu", "shares", u.cpu_share.map(Value::from)),
        ("cpu", "realtimePeriod", u.cpu_rt_period.map(Value::from)),
        ("cpu", "realtimeRuntime", u.cpu_rt_runtime.map(Value::from)),
        ("cpu", "cpus", u.cpuset_cpus.clone().map(Value::from)),
        ("cpu", "mems", u.cpuset_mems.clone().map(Value::from)),
        ("blockIO", "weight", u.blkio_weight.map(Value::from)),
    ];
    for (group, field, value) in flags {
        if let Some(value) = value {
            let object = r.as_object_mut().ok_or_else(|| RtError("the resources are not a JSON object".into()))?;
            let entry = object.entry(group).or_insert_with(|| json!({}));
            entry
                .as_object_mut()
                .ok_or_else(|| RtError(format!("resources.{group} is not a JSON object")))?
                .insert(field.into(), value);
        }
    }
    let resources: oci_spec::runtime::LinuxResources =
        serde_json::from_value(r).map_err(|e| RtError(format!("the resources are not OCI linux.resources: {e}")))?;
    let mut linux = oci_spec::runtime::Linux::default();
    linux.set_resources(Some(resources));
    let mut spec = oci_spec::runtime::Spec::default();
    spec.set_linux(Some(linux));
    let (limits, notes) = resources::limits(&spec)?;
    for note in notes {
        super::log::warn(&note);
    }
    let cgroup = resources::cgroup_at(&c.cgroup_name);
    cgroup.apply(k, &limits)?;
    Ok(())
}

/// `--resources FILE`, or `-`: stdin.
fn read_resources(path: &std::path::Path) -> Rt<Value> {
    let mut text = String::new();
    if path == std::path::Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map_err(|e| RtError(format!("cannot read the resources: {e}")))?;
    } else {
        text = std::fs::read_to_string(path)
            .map_err(|e| RtError(format!("cannot read the resources {}: {e}", path.display())))?;
    }
    serde_json::from_str(&text).map_err(|e| RtError(format!("the resources are not JSON: {e}")))
}
