//! Lesson 11: under the engines. Podman (daemonless, the lightest engine) runs its
//! containers on learnctr's runtime; learnctr's own log shows every call it made, the
//! config.json it wrote is compared with `learnctr spec`'s, and the process tree
//! shows who holds the container (podman → conmon → the container). Docker
//! (dockerd → containerd → containerd-shim-runc-v2) and a Kubernetes node (kubelet →
//! CRI → containerd → shim, chosen by a RuntimeClass) reach the runtime the same way:
//! the text says how, and the README how to register learnctr with each.

use super::podman::{self, Podman, CGROUP_PARENT, IMAGE};
use crate::course::{Ctx, Failure, Lesson, Step};
use serde_json::Value;

pub fn lesson() -> Lesson {
    Lesson {
        number: 11,
        name: "engines",
        needs_rootfs: true,
        steps: vec![
            Step {
                id: "calls",
                shell: &[
                    "podman --runtime /usr/local/bin/learnctr --runtime-flag debug --runtime-flag log=/tmp/calls.log \\",
                    "    run --rm --network none IMAGE sh -c 'echo hello from $(hostname)'",
                    "grep level=debug /tmp/calls.log",
                ],
                key: &[], run: calls,
            },
            Step {
                id: "config",
                shell: &[
                    "podman --runtime /usr/local/bin/learnctr create --name c1 IMAGE sh; podman init c1",
                    "podman inspect --format '{{.OCIConfigPath}}' c1   # the config.json Podman wrote",
                    "learnctr spec --bundle /tmp/b   # beside runc's default",
                ],
                key: &[],
                run: config,
            },
            Step {
                id: "tree",
                shell: &[
                    "podman --runtime /usr/local/bin/learnctr run -d --name c2 IMAGE sleep 300",
                    "ps -o pid,ppid,args -p $(podman inspect --format '{{.State.ConmonPid}} {{.State.Pid}}' c2)",
                    "podman exec c2 hostname; podman rm -f c2",
                ],
                key: &[],
                run: tree,
            },
        ],
    }
}

/// The engine, or the one sentence that says what this lesson needs.
fn start(ctx: &Ctx) -> Result<Podman, Failure> {
    if podman::installed().is_none() {
        return Err(Failure::new(ctx.s("error.no_podman")));
    }
    Podman::start(ctx)
}

fn calls(ctx: &mut Ctx) -> Result<(), Failure> {
    let pm = start(ctx)?;
    let greet = "echo hello from $(hostname)";
    let out = pm.on_learnctr(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cgroup-parent",
        CGROUP_PARENT,
        IMAGE,
        "sh",
        "-c",
        greet,
    ])?;
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    ctx.fact("label.engine", format!("podman, runtime {}", pm.learnctr.display()));
    ctx.fact("label.output", &printed);
    ctx.check("check.calls.output", printed.starts_with("hello from "), &printed);
    let calls = pm.calls();
    for (i, call) in calls.iter().enumerate() {
        ctx.fact_raw(&format!("{} {}", ctx.s("label.call"), i + 1), shorten(call));
    }
    let verbs: Vec<&str> = calls.iter().filter_map(|c| verb(c)).collect();
    let created = verbs.iter().position(|v| *v == "create");
    let started = verbs.iter().position(|v| *v == "start");
    ctx.check("check.calls.lifecycle", created.is_some() && started > created, verbs.join(", "));
    let create = calls.iter().find(|c| verb(c) == Some("create")).cloned().unwrap_or_default();
    ctx.check(
        "check.calls.create_args",
        create.contains("--bundle") && create.contains("--pid-file"),
        shorten(&create),
    );
    // Podman's cleanup process calls `delete` without the runtime flags, so the call
    // is not in the log: its effect is, in learnctr's state directory.
    let id = create.split_whitespace().last().unwrap_or_default().to_string();
    let root = std::path::Path::new(crate::runtime::state::DEFAULT_ROOT);
    let gone = crate::runtime::state_json(root, &id).err().map(|e| e.0).unwrap_or_else(|| "still there".into());
    let said = crate::runtime::no_container(&id).0;
    ctx.check("check.calls.deleted", !id.is_empty() && gone == said, shorten(&gone));
    ctx.hold(Box::new(pm));
    Ok(())
}

/// The subcommand of a call (the first word that is not a flag or a flag's value).
fn verb(call: &str) -> Option<&str> {
    let mut words = call.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--root" || w == "--log" || w == "--log-format" {
            words.next();
        } else if !w.starts_with('-') {
            return Some(w);
        }
    }
    None
}

/// Long ids and paths cut to what a terminal line can hold.
fn shorten(call: &str) -> String {
    call.split_whitespace()
        .map(|w| if w.len() > 40 { format!("{}…{}", &w[..16], &w[w.len() - 12..]) } else { w.to_string() })
        .collect::<Vec<_>>()
        .join(" ")
}

fn config(ctx: &mut Ctx) -> Result<(), Failure> {
    let pm = start(ctx)?;
    pm.on_learnctr(&[
        "create",
        "--name",
        "learnctr-c1",
        "--network",
        "none",
        "--cgroup-parent",
        CGROUP_PARENT,
        "-e",
        "GREETING=hi",
        IMAGE,
        "sh",
    ])?;
    pm.on_learnctr(&["init", "learnctr-c1"])?;
    let path = String::from_utf8_lossy(&pm.run(&["inspect", "--format", "{{.OCIConfigPath}}", "learnctr-c1"])?.stdout)
        .trim()
        .to_string();
    let engine: Value =
        serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| Failure::new(format!("{path}: {e}")))?;
    let spec = crate::runtime::spec::default_spec(false).map_err(|e| Failure::new(e.to_string()))?;
    let ours: Value = serde_json::to_value(&spec).map_err(|e| Failure::new(e.to_string()))?;
    ctx.columns = Some(("learnctr spec".to_string(), "podman".to_string()));
    let args_of = |v: &Value| v.pointer("/process/args").map(Value::to_string).unwrap_or_default();
    ctx.observe("label.args", args_of(&ours), args_of(&engine));
    let env_of = |v: &Value| -> Vec<String> {
        v.pointer("/process/env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    };
    ctx.observe("label.env", env_of(&ours).join(" "), env_of(&engine).join(" "));
    let mounts_of = |v: &Value| -> Vec<String> {
        v.pointer("/mounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("destination").and_then(Value::as_str))
            .map(String::from)
            .collect()
    };
    let (our_mounts, engine_mounts) = (mounts_of(&ours), mounts_of(&engine));
    let added: Vec<&String> = engine_mounts.iter().filter(|m| !our_mounts.contains(m)).collect();
    ctx.observe("label.mounts", our_mounts.len(), format!("{} (+ {})", engine_mounts.len(), join(&added)));
    let count = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_array).map(Vec::len).unwrap_or(0);
    ctx.observe(
        "label.caps",
        count(&ours, "/process/capabilities/bounding"),
        count(&engine, "/process/capabilities/bounding"),
    );
    ctx.observe("label.seccomp", count(&ours, "/linux/seccomp/syscalls"), count(&engine, "/linux/seccomp/syscalls"));
    let cgroups_path = |v: &Value| v.pointer("/linux/cgroupsPath").and_then(Value::as_str).unwrap_or("-").to_string();
    ctx.observe("label.cgroups_path", cgroups_path(&ours), cgroups_path(&engine));
    ctx.observe("label.annotations", count_keys(&ours), count_keys(&engine));
    // The three sources of seed 002: what the user typed, what the image says, what
    // the engine adds.
    ctx.check(
        "check.config.user",
        args_of(&engine) == "[\"sh\"]" && env_of(&engine).contains(&"GREETING=hi".to_string()),
        args_of(&engine),
    );
    ctx.check(
        "check.config.engine",
        ["/etc/hosts", "/etc/hostname"].iter().all(|m| added.iter().any(|a| a == m)),
        join(&added),
    );
    // `podman init` stopped at our `create`: learnctr itself says so.
    let id =
        String::from_utf8_lossy(&pm.run(&["inspect", "--format", "{{.ID}}", "learnctr-c1"])?.stdout).trim().to_string();
    let state = crate::runtime::state_json(std::path::Path::new(crate::runtime::state::DEFAULT_ROOT), &id)
        .map(|s| {
            serde_json::from_str::<Value>(&s)
                .ok()
                .and_then(|v| v["status"].as_str().map(String::from))
                .unwrap_or_default()
        })
        .unwrap_or_else(|e| e.0);
    ctx.check("check.config.created", state == "created", &state);
    ctx.hold(Box::new(pm));
    Ok(())
}

fn join(items: &[&String]) -> String {
    items.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

fn count_keys(v: &Value) -> usize {
    v.get("annotations").and_then(Value::as_object).map(|o| o.len()).unwrap_or(0)
}

fn tree(ctx: &mut Ctx) -> Result<(), Failure> {
    let pm = start(ctx)?;
    let out = pm.on_learnctr(&[
        "run",
        "-d",
        "--name",
        "learnctr-c2",
        "--network",
        "none",
        "--cgroup-parent",
        CGROUP_PARENT,
        IMAGE,
        "sleep",
        "300",
    ])?;
    if !out.status.success() {
        return Err(Failure::new(format!("podman run: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let pids = String::from_utf8_lossy(
        &pm.run(&["inspect", "--format", "{{.State.ConmonPid}} {{.State.Pid}}", "learnctr-c2"])?.stdout,
    )
    .trim()
    .to_string();
    let mut words = pids.split_whitespace().map(|w| w.parse::<i32>().unwrap_or(0));
    let (conmon, container) = (words.next().unwrap_or(0), words.next().unwrap_or(0));
    let parent = ppid(container);
    ctx.fact("label.container", describe(container));
    ctx.fact("label.parent", describe(parent));
    ctx.fact("label.grandparent", describe(ppid(parent)));
    ctx.check("check.tree.conmon", parent == conmon && comm(parent) == "conmon", describe(parent));
    let conmon_args = std::fs::read(format!("/proc/{conmon}/cmdline")).unwrap_or_default();
    let names_us = String::from_utf8_lossy(&conmon_args).split('\0').any(|a| a == pm.learnctr.display().to_string());
    ctx.check("check.tree.runtime", names_us, pm.learnctr.display());
    // `podman exec` goes through conmon to `learnctr exec --process FILE --detach`.
    let out = pm.on_learnctr(&["exec", "learnctr-c2", "hostname"])?;
    let host = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let exec_call = pm.calls().into_iter().find(|c| verb(c) == Some("exec")).unwrap_or_default();
    ctx.fact_raw("learnctr exec", shorten(&exec_call));
    ctx.check(
        "check.tree.exec",
        out.status.success() && exec_call.contains("--process") && exec_call.contains("--detach"),
        &host,
    );
    ctx.hold(Box::new(pm));
    Ok(())
}

fn stat_field(pid: i32, index: usize) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    match stat.rfind(')') {
        Some(i) => stat[i + 1..].split_whitespace().nth(index).unwrap_or("").to_string(),
        None => String::new(),
    }
}

fn ppid(pid: i32) -> i32 {
    stat_field(pid, 1).parse().unwrap_or(0)
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string()
}

fn describe(pid: i32) -> String {
    format!("{pid} {}", comm(pid))
}
