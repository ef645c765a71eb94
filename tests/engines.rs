//! Podman and Docker (and containerd's ctr) with learnctr as their OCI runtime, against
//! runc: everyday commands run once with each runtime on private engines (see
//! tests/common/engines.rs). Every case that passes with runc must pass with learnctr
//! with the same exit codes and the same output once terminals and addresses are
//! normalised; a case that fails with runc on this machine is reported, not required.

mod common;

use common::engines::{self, Engine, Kind, Ran, IMAGE};
use common::*;
use std::time::{Duration, Instant};

/// A detached container that says when it is up, answers USR1 and stops on TERM (as PID
/// 1 a shell ignores the signals it does not trap).
const SERVE: &str =
    "trap 'echo got-usr1' USR1; trap 'exit 0' TERM; while :; do sleep 300 & echo started; wait $!; done";

/// The limits as the container sees them, on cgroup v1 or v2.
const LIMITS_INSIDE: &str = "if [ -e /sys/fs/cgroup/cgroup.controllers ]; then \
    echo memory=$(cat /sys/fs/cgroup/memory.max) pids=$(cat /sys/fs/cgroup/pids.max) cpu=$(cat /sys/fs/cgroup/cpu.max); \
    else c=/sys/fs/cgroup; echo memory=$(cat $c/memory/memory.limit_in_bytes) pids=$(cat $c/pids/pids.max) \
    cpu=$(cat $c/cpu/cpu.cfs_quota_us) $(cat $c/cpu/cpu.cfs_period_us); fi; ";

/// What one case saw with one runtime.
#[derive(Default)]
struct Outcome {
    /// One line per check: compared between the runtimes.
    seen: Vec<String>,
    /// The checks that failed.
    problems: Vec<String>,
    /// Every command with its raw output, for the messages.
    log: Vec<String>,
}

/// One case being run with one runtime.
struct Run<'a> {
    e: &'a Engine,
    rt: &'a str,
    /// The case's container name, different for each runtime.
    name: String,
    o: Outcome,
}

/// Output made comparable: no carriage returns or NULs (terminals; `^@` is a NUL the
/// terminal echoed), no trailing spaces, /dev/pts/N for any pts.
fn norm(s: &str) -> String {
    let s: String = s.replace("^@", "").chars().filter(|c| *c != '\r' && *c != '\0').collect();
    let lines = s.lines().map(|l| {
        let mut parts = l.trim_end().split("/dev/pts/");
        let first = parts.next().unwrap_or("").to_string();
        let number = |p: &str| match p.trim_start_matches(|c: char| c.is_ascii_digit()) {
            rest if rest.len() < p.len() => format!("N{rest}"),
            _ => p.to_string(),
        };
        parts.fold(first, |acc, p| format!("{acc}/dev/pts/{}", number(p)))
    });
    lines.collect::<Vec<_>>().join("\n").trim().to_string()
}

/// `want` may hold one `*`, which matches anything.
fn matches(got: &str, want: &str) -> bool {
    match want.split_once('*') {
        Some((head, tail)) => got.len() >= head.len() + tail.len() && got.starts_with(head) && got.ends_with(tail),
        None => got == want,
    }
}

/// A command's exit code and normalised stdout, as one comparable line.
fn said(ran: &Ran) -> String {
    format!("exit {:?}: {}", ran.code, norm(&ran.stdout).replace('\n', "|"))
}

impl Run<'_> {
    fn step(&mut self, args: &[&str]) -> Ran {
        let ran = self.e.run(self.rt, args);
        self.o.log.push(ran.show());
        ran
    }

    fn tty(&mut self, args: &[&str]) -> Ran {
        let ran = self.e.run_tty(self.rt, args);
        self.o.log.push(ran.show());
        ran
    }

    /// The one check: `got` is compared with runc's and must match `want`.
    fn expect(&mut self, label: &str, got: String, want: &str) {
        if !matches(&got, want) {
            self.o.problems.push(format!("{label}: want {want:?}, got {got:?}"));
        }
        self.o.seen.push(format!("{label}: {got}"));
    }

    /// `inspect -f FORMAT` of the case's container.
    fn inspect(&mut self, format: &str) -> String {
        let name = self.name.clone();
        self.step(&["inspect", "-f", format, &name]).stdout.trim().to_string()
    }

    fn state(&mut self, field: &str) -> String {
        self.inspect(&format!("{{{{.State.{field}}}}}"))
    }

    /// Wait (10 s at most) until the container's log holds `needle` `count` times.
    fn logs_until(&mut self, needle: &str, count: usize) -> String {
        let text = |ran: &Ran| format!("{}{}", ran.stdout, ran.stderr);
        let mut last = None;
        wait_until(Duration::from_secs(10), || {
            let ran = last.insert(self.e.run(self.rt, &["logs", &self.name]));
            text(ran).matches(needle).count() >= count
        });
        let ran = last.unwrap();
        self.o.log.push(ran.show());
        text(&ran)
    }

    /// `run -d FLAGS` of `before` then SERVE; when it has started `then`; then `rm -f`.
    fn served(&mut self, flags: &[&str], before: &str, then: impl FnOnce(&mut Self, &str)) {
        let (name, script) = (self.name.clone(), format!("{before}{SERVE}"));
        let tail = [IMAGE, "sh", "-c", &script];
        let ran = self.step(
            &["run", "-d", "--name", &name].into_iter().chain(flags.iter().copied()).chain(tail).collect::<Vec<_>>(),
        );
        let up = ran.code == Some(0) && self.logs_until("started", 1).contains("started");
        self.expect("run -d", format!("exit {:?}, started: {up}", ran.code), "exit Some(0), started: true");
        // The engine's word that the runtime asked for is the one it used.
        let field = if self.e.kind == Kind::Podman { "{{.OCIRuntime}}" } else { "{{.HostConfig.Runtime}}" };
        let used = self.inspect(field);
        if used != self.rt {
            self.o.problems.push(format!("the engine used the runtime {used:?}"));
        }
        if up {
            then(self, &name);
        }
        self.step(&["rm", "-f", &name]);
    }

    /// A cgroup file of the container's init as the host sees it.
    fn host_cgroup(&mut self, controller: &str, v1: &[&str], v2: &str) -> String {
        let pid = self.state("Pid");
        host_cgroup(&pid, controller, v1, v2)
    }
}

/// The host's view of `pid`'s cgroup file: `v1` files (joined by a space) in the
/// controller's v1 hierarchy, or the `v2` file in the unified one.
fn host_cgroup(pid: &str, controller: &str, v1: &[&str], v2: &str) -> String {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mount = |fstype: &str, opt: Option<&str>| {
        info.lines().find_map(|l| {
            let r: Vec<&str> = l.split_once(" - ")?.1.split(' ').collect();
            let opts_ok = opt.is_none_or(|o| r.get(2).is_some_and(|s| s.split(',').any(|x| x == o)));
            (r[0] == fstype && opts_ok).then(|| l.split(' ').nth(4).unwrap_or("").to_string())
        })
    };
    let read = |p: String| std::fs::read_to_string(&p).map(|s| s.trim().to_string()).unwrap_or(format!("no {p}"));
    for f in cgroup.lines().map(|l| l.splitn(3, ':').collect::<Vec<_>>()).filter(|f| f.len() == 3) {
        if let (true, Some(mp)) = (f[1].split(',').any(|c| c == controller), mount("cgroup", Some(controller))) {
            return v1.iter().map(|file| read(format!("{mp}{}/{file}", f[2]))).collect::<Vec<_>>().join(" ");
        }
    }
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("/");
    read(format!("{}{path}/{v2}", mount("cgroup2", None).unwrap_or_default()))
}

fn host_cap_eff() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("CapEff")).unwrap_or("").to_string()
}

/// `run --rm FLAGS IMAGE sh -c SCRIPT`: the case's name, its flags, its script, and the
/// stdout it must print with exit 0 (lines joined by |). @SUBNET@, @CAPEFF@ and @PID1@
/// are the bridge's /24, the host's CapEff line and the name of its PID 1.
type Simple = (&'static str, &'static str, &'static str, &'static str);

#[rustfmt::skip]
const SIMPLE: &[Simple] = &[
    ("--user 65534", "--user 65534", "id -u; id -g", "65534|65534"),
    ("--read-only", "--read-only", "touch /x 2>/dev/null; echo touch=$?; awk '$2 == \"/\" {print substr($4, 1, 2)}' /proc/mounts", "touch=1|ro"),
    ("--cap-add SYS_ADMIN", "--cap-add SYS_ADMIN", "c=$(grep CapEff /proc/self/status | cut -f2); echo $c sys_admin=$(( 0x$c >> 21 & 1 ))", "*sys_admin=1"),
    ("--cap-drop all", "--cap-drop all", "grep CapEff /proc/self/status", "CapEff:\t0000000000000000"),
    ("--security-opt no-new-privileges", "--security-opt no-new-privileges", "grep NoNewPrivs /proc/self/status", "NoNewPrivs:\t1"),
    ("--sysctl kernel.msgmax=4096", "--sysctl kernel.msgmax=4096", "cat /proc/sys/kernel/msgmax", "4096"),
    // nofile and nproc together: given one, podman sets the other above what this host allows.
    ("--ulimit nofile, nproc", "--ulimit nofile=1024:2048 --ulimit nproc=100:200", "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu", "1024|2048|100|200"),
    ("-e and -w", "-e GREETING=hello -w /tmp", "echo $GREETING; pwd", "hello|/tmp"),
    ("--hostname", "--hostname box1", "hostname; cat /etc/hostname", "box1|box1"),
    ("--tmpfs", "--tmpfs /scratch", "awk '$2 == \"/scratch\" {print $3}' /proc/mounts; echo t > /scratch/t && cat /scratch/t", "tmpfs|t"),
    ("--device", "--device /dev/null:/dev/mynull", "stat -c '%F %t,%T' /dev/mynull; echo x > /dev/mynull && echo written", "character special file 1,3|written"),
    ("--privileged", "--privileged", "grep CapEff /proc/self/status; test -e /dev/kmsg && echo host-devices", "@CAPEFF@|host-devices"),
    ("--pid host", "--pid host", "cat /proc/1/comm", "@PID1@"),
    ("--init", "--init", "echo $(cat /proc/1/comm) $(grep PPid /proc/$$/status)", "*init PPid: 1"),
    // Where the answer is the host's own, `*`: the comparison with runc is the proof.
    ("--ipc host", "--ipc host", "readlink /proc/self/ns/ipc", "ipc:[*]"),
    ("--uts host", "--uts host", "hostname", "*"),
    ("--network host", "--network host", "ls /sys/class/net | wc -l", "*"),
    ("--shm-size", "--shm-size 8m", "df -k /dev/shm | awk 'NR == 2 {print $2}'", "8192"),
    ("--group-add", "--group-add 65534", "id -G", "0*65534"),
    ("seccomp=unconfined", "--security-opt seccomp=unconfined", "grep Seccomp: /proc/self/status", "Seccomp:\t0"),
    ("--cpu-shares", "--cpu-shares 512", "cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.weight", "*"),
    ("--cpuset-cpus", "--cpuset-cpus 0", "cat /sys/fs/cgroup/cpuset/cpuset.cpus 2>/dev/null || cat /sys/fs/cgroup/cpuset.cpus", "0"),
    ("--entrypoint", "--entrypoint /bin/echo", "hi", "sh -c hi"),
    ("the default bridge network", "", "ip -4 -o addr show eth0 | awk '{print $4}' | sed 's/[0-9]*\\//x\\//'; \
        gw=$(ip route | awk '/^default/ {print $3}'); echo gw=$gw; ping -c 1 -W 3 $gw >/dev/null && echo ping-ok",
        "@SUBNET@.x/24|gw=@SUBNET@.1|ping-ok"),
];

fn simple(r: &mut Run, (_, flags, script, stdout): &Simple) {
    let args: Vec<&str> =
        ["run", "--rm"].into_iter().chain(flags.split_whitespace()).chain([IMAGE, "sh", "-c", script]).collect();
    let ran = r.step(&args);
    let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    let want =
        stdout.replace("@SUBNET@", &r.e.subnet).replace("@CAPEFF@", &host_cap_eff()).replace("@PID1@", pid1.trim());
    r.expect("run --rm", said(&ran), &format!("exit Some(0): {want}"));
}

fn output_and_exit_code(r: &mut Run) {
    let ran = r.step(&["run", "--rm", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    r.expect("run", format!("{}, stderr: {}", said(&ran), ran.stderr.trim()), "exit Some(3): out, stderr: err");
}

/// Podman loses the output of a terminal that closes at once (1 run in 20 with runc
/// here): the shells with a terminal wait a moment before they exit.
fn tty_run(r: &mut Run) {
    let ran = r.tty(&["run", "--rm", "-it", IMAGE, "sh", "-c", "tty; sleep 0.3; exit 4"]);
    r.expect("run -it", said(&ran), "exit Some(4): /dev/pts/N");
}

/// `run -d`, `exec` (plain, `-it`, `--user`), `stop` and `rm`.
fn detached(r: &mut Run) {
    r.served(&[], "", |r, name| {
        let ran = r.step(&["exec", name, "sh", "-c", "echo exec; exit 2"]);
        r.expect("exec", said(&ran), "exit Some(2): exec");
        let ran = r.tty(&["exec", "-it", name, "sh", "-c", "tty; sleep 0.3; exit 5"]);
        r.expect("exec -it", said(&ran), "exit Some(5): /dev/pts/N");
        let ran = r.step(&["exec", "--user", "65534", name, "id", "-u"]);
        r.expect("exec --user 65534", said(&ran), "exit Some(0): 65534");
        let ran = r.step(&["stop", "-t", "5", name]);
        let got = format!("exit {:?}, then {} {}", ran.code, r.state("Status"), r.state("ExitCode"));
        r.expect("stop", got, "exit Some(0), then exited 0");
        let ran = r.step(&["rm", name]);
        let found = r.step(&["inspect", name]).code == Some(0);
        r.expect(
            "rm",
            format!("exit {:?}, then inspect finds it: {found}", ran.code),
            "exit Some(0), then inspect finds it: false",
        );
    });
}

fn restart(r: &mut Run) {
    r.served(&[], "", |r, name| {
        let ran = r.step(&["restart", "-t", "5", name]);
        let starts = r.logs_until("started", 2).matches("started").count();
        let got = format!("exit {:?}, {}, started twice: {}", ran.code, r.state("Status"), starts >= 2);
        r.expect("restart", got, "exit Some(0), running, started twice: true");
    });
}

fn kill_usr1(r: &mut Run) {
    r.served(&[], "", |r, name| {
        let ran = r.step(&["kill", "-s", "USR1", name]);
        let trapped = r.logs_until("got-usr1", 1).contains("got-usr1");
        let got = format!("exit {:?}, trapped: {trapped}, {}", ran.code, r.state("Status"));
        r.expect("kill -s USR1", got, "exit Some(0), trapped: true, running");
    });
}

/// The state, and the freezer as the host sees it (v1 or v2).
fn pause(r: &mut Run) {
    r.served(&[], "", |r, name| {
        for (verb, want) in [("pause", "exit Some(0), paused, frozen"), ("unpause", "exit Some(0), running, thawed")] {
            let ran = r.step(&[verb, name]);
            let freezer = r.host_cgroup("freezer", &["freezer.state"], "cgroup.freeze");
            let frozen = match freezer.as_str() {
                "FROZEN" | "1" => "frozen",
                "THAWED" | "0" => "thawed",
                other => other,
            };
            let got = format!("exit {:?}, {}, {frozen}", ran.code, r.state("Status"));
            r.expect(verb, got, want);
        }
    });
}

/// `top`'s commands: its columns from the 8th on (after PID, PPID and the times).
fn top(r: &mut Run) {
    r.served(&[], "", |r, name| {
        let ran = r.step(&["top", name]);
        let row = |l: &str| l.split_whitespace().skip(7).collect::<Vec<_>>().join(" ");
        let mut commands: Vec<String> = ran.stdout.lines().skip(1).map(row).filter(|c| c == "sleep 300").collect();
        commands.dedup();
        r.expect("top", format!("exit {:?}: {}", ran.code, commands.join(",")), "exit Some(0): sleep 300");
    });
}

fn update_memory(r: &mut Run) {
    r.served(&[], "", |r, name| {
        // Docker refuses a memory limit above the swap limit it set at `run`.
        let ran = r.step(&["update", "--memory", "96m", "--memory-swap", "192m", name]);
        let limit = r.host_cgroup("memory", &["memory.limit_in_bytes"], "memory.max");
        r.expect("update, then the host's limit", format!("exit {:?}, {limit}", ran.code), "exit Some(0), 100663296");
    });
}

/// --memory, --pids-limit and --cpus, inside and in the host's cgroup files.
fn limits(r: &mut Run) {
    let want = "memory=67108864 pids=33 cpu=50000 100000";
    r.served(&["--memory", "64m", "--pids-limit", "33", "--cpus", "0.5"], LIMITS_INSIDE, |r, _| {
        let logs = r.logs_until("started", 1);
        let inside = logs.lines().find(|l| l.starts_with("memory=")).unwrap_or("").trim().to_string();
        r.expect("inside", inside, want);
        let memory = r.host_cgroup("memory", &["memory.limit_in_bytes"], "memory.max");
        let pids = r.host_cgroup("pids", &["pids.max"], "pids.max");
        let cpu = r.host_cgroup("cpu", &["cpu.cfs_quota_us", "cpu.cfs_period_us"], "cpu.max");
        r.expect("on the host", format!("memory={memory} pids={pids} cpu={cpu}"), want);
    });
}

fn volumes(r: &mut Run) {
    let (dir, file) = (r.e.dir.join(format!("volume-{}", r.rt)), r.e.dir.join(format!("file-{}", r.rt)));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a"), "in-dir\n").unwrap();
    std::fs::write(&file, "in-file\n").unwrap();
    let (v1, v2) = (format!("{}:/data", dir.display()), format!("{}:/etc/extra:ro", file.display()));
    let script = "cat /data/a /etc/extra; echo new > /data/b; (echo x > /etc/extra) 2>/dev/null; echo write-ro=$?";
    let ran = r.step(&["run", "--rm", "-v", &v1, "-v", &v2, IMAGE, "sh", "-c", script]);
    r.expect("run -v", said(&ran), "exit Some(0): in-dir|in-file|write-ro=1");
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    r.expect("on the host", format!("{:?} {:?}", read(&dir.join("b")), read(&file)), r#""new\n" "in-file\n""#);
}

/// 16 MiB and a shell doubling a string: the OOM killer, 137, and OOMKilled where the
/// engine reports it (runc's answer is what learnctr's must be).
fn oom(r: &mut Run) {
    let name = r.name.clone();
    let ran = r.step(&["run", "--name", &name, "--memory", "16m", IMAGE, "sh", "-c", "x=a; while :; do x=$x$x; done"]);
    let killed = r.state("OOMKilled");
    r.step(&["rm", "-f", &name]);
    if r.rt == "runc" && killed != "true" {
        eprintln!("note: {:?} does not report OOMKilled with runc here ({killed:?})", r.e.kind);
    }
    r.expect("run --memory 16m", format!("exit {:?}", ran.code), "exit Some(137)");
    r.expect("OOMKilled", killed, "*");
}

fn ten_in_a_row(r: &mut Run) {
    let runs: Vec<Ran> = (1..=10).map(|i| r.step(&["run", "--rm", IMAGE, "echo", &format!("run-{i}")])).collect();
    let good = runs.iter().enumerate().filter(|(i, ran)| said(ran) == format!("exit Some(0): run-{}", i + 1)).count();
    r.expect("good runs", good.to_string(), "10");
}

fn five_in_parallel(r: &mut Run) {
    let (e, rt) = (r.e, r.rt);
    let runs: Vec<Ran> = std::thread::scope(|s| {
        let run = move |i: usize| move || e.run(rt, &["run", "--rm", IMAGE, "echo", &format!("parallel-{i}")]);
        let spawned: Vec<_> = (1..=5).map(|i| s.spawn(run(i))).collect();
        spawned.into_iter().map(|h| h.join().unwrap()).collect()
    });
    r.o.log.extend(runs.iter().map(Ran::show));
    let good =
        runs.iter().enumerate().filter(|(i, ran)| said(ran) == format!("exit Some(0): parallel-{}", i + 1)).count();
    r.expect("good runs", good.to_string(), "5");
}

/// containerd directly: `ctr run --rm --runc-binary`.
/// `run -i`: the engine's stdin reaches the container's program (the runtime hands its
/// own stdio to the init).
fn stdin(r: &mut Run) {
    let ran = r.e.run_with_input(
        r.rt,
        &["run", "--rm", "-i", IMAGE, "sh", "-c", "read x; echo got=$x; wc -l"],
        "first\nsecond\nthird\n",
    );
    r.o.log.push(ran.show());
    r.expect("run -i", said(&ran), "exit Some(0): got=first|2");
}

/// A program the image lacks, and one that cannot run: the engines' exit codes 127
/// and 126 come from the runtime's words ("executable file not found", "permission
/// denied").
fn missing_program(r: &mut Run) {
    let missing = r.step(&["run", "--rm", IMAGE, "no-such-program"]);
    let not_executable = r.step(&["run", "--rm", IMAGE, "/etc/passwd"]);
    r.expect("run of missing programs", format!("{:?} {:?}", missing.code, not_executable.code), "Some(127) Some(126)");
}

fn ctr_run(r: &mut Run) {
    let id = format!("{}-{}", r.name, std::process::id());
    let ran = r.e.ctr_run(r.rt, &[IMAGE, &id, "sh", "-c", "echo hi; exit 3"]);
    r.o.log.push(ran.show());
    r.expect("ctr run", said(&ran), "exit Some(3): hi");
}

type Case = (&'static str, Box<dyn Fn(&mut Run)>);

/// The basic case first: if runc fails it, the engine itself does not work.
fn cases(kind: Kind) -> Vec<Case> {
    let steps = |name: &'static str, f: fn(&mut Run)| -> Case { (name, Box::new(f)) };
    let mut all = vec![
        steps("run: output and exit code", output_and_exit_code),
        steps("run -it", tty_run),
        steps("run -i, with input", stdin),
        steps("run -d, exec (plain, -it, --user), stop, rm", detached),
        steps("restart", restart),
        steps("kill -s USR1", kill_usr1),
        steps("pause and unpause", pause),
        steps("top", top),
        steps("update --memory", update_memory),
        steps("--memory, --pids-limit, --cpus", limits),
        steps("volumes: a directory and a file :ro", volumes),
        steps("an OOM kill", oom),
        steps("10 runs in a row", ten_in_a_row),
        steps("5 runs in parallel", five_in_parallel),
        steps("a missing program (127) and a file that is no program (126)", missing_program),
    ];
    all.extend(SIMPLE.iter().map(|s| -> Case { (s.0, Box::new(move |r: &mut Run| simple(r, s))) }));
    if kind == Kind::Docker {
        all.push(("ctr run --rm --runc-binary (containerd directly)", Box::new(ctr_run)));
    }
    all
}

fn run_case(e: &Engine, rt: &str, index: usize, (name, case): &Case) -> Outcome {
    let mut r = Run { e, rt, name: format!("case{index}-{rt}"), o: Outcome::default() };
    let t0 = Instant::now();
    case(&mut r);
    let verdict = if r.o.problems.is_empty() { "ok".to_string() } else { r.o.problems.join("; ") };
    eprintln!("[{:?} {rt}] {name}: {verdict} ({:.1} s)", e.kind, t0.elapsed().as_secs_f64());
    r.o
}

/// Every case with runc, then with learnctr; the differences, one message each.
fn compare(e: &Engine) -> Vec<String> {
    let mut failures = Vec::new();
    for (index, case) in cases(e.kind).iter().enumerate() {
        let (runc, ours) = (run_case(e, "runc", index, case), run_case(e, "learnctr", index, case));
        let logs = |o: &Outcome| o.log.join("\n");
        if !runc.problems.is_empty() {
            assert!(index > 0, "{:?} cannot even run a container with runc:\n{}", e.kind, logs(&runc));
            let problems = runc.problems.join("; ");
            eprintln!(
                "RUNC FAILS {:?} `{}` here (not required of learnctr): {problems}\n{}",
                e.kind,
                case.0,
                logs(&runc)
            );
        } else if !ours.problems.is_empty() || ours.seen != runc.seen {
            let (kind, name, problems) = (e.kind, case.0, &ours.problems);
            failures.push(format!(
                "{kind:?} `{name}` with learnctr:\n  problems: {problems:?}\n  learnctr saw: {:?}\n  runc saw:     {:?}\n{}",
                ours.seen, runc.seen, logs(&ours)
            ));
        }
    }
    failures
}

/// True when all `programs` are installed; in CI a missing one fails the test.
fn require(test: &str, programs: &[&str]) -> bool {
    let path = std::env::var("PATH").unwrap_or_default();
    let there = |p: &&&str| {
        std::path::Path::new(p).is_file() || path.split(':').any(|d| std::path::Path::new(d).join(p).is_file())
    };
    let missing: Vec<&&str> = programs.iter().filter(|p| !there(p)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{test}: CI=true but {missing:?} are not installed");
    eprintln!("SKIPPED {test}: {missing:?} not installed");
    false
}

/// Start the engine, compare, take it all down; then the host must hold nothing of it.
fn engine_test(test: &str, programs: &[&str], start: fn() -> engines::Started) {
    let Some(t) = root_test(test) else { return };
    if !require(test, programs) {
        return;
    }
    let extras = engines::host_extras();
    let t0 = Instant::now();
    let failures = compare(&start().engine);
    eprintln!("{test}: {:.0} s", t0.elapsed().as_secs_f64());
    t.assert_same_host(test);
    engines::assert_same_extras(&extras, &engines::host_extras(), test);
    assert!(failures.is_empty(), "{} case(s) differ with learnctr:\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn podman_runs_everyday_commands_with_learnctr_as_with_runc() {
    let programs = ["podman", "conmon", "nsenter", "unshare", "script", "runc"];
    engine_test("podman_runs_everyday_commands_with_learnctr_as_with_runc", &programs, engines::podman);
}

#[test]
fn docker_and_ctr_run_everyday_commands_with_learnctr_as_with_runc() {
    let programs = ["/usr/sbin/dockerd", "/usr/bin/docker", "containerd", "containerd-shim-runc-v2", "ctr", "script"];
    engine_test("docker_and_ctr_run_everyday_commands_with_learnctr_as_with_runc", &programs, engines::docker);
}
