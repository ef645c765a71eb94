#!/usr/bin/env python3
"""make bench: the same bundle (`/bin/true`, `learnctr spec` = `runc spec` defaults,
terminal off) run to completion by learnctr and by runc (and crun or youki when
installed), alternating in one run.

Prints for each runtime the median wall time and the peak memory, learnctr's ratio to
runc, and where learnctr's time goes (its LEARNCTR_TIMING marks, medians per phase).

Peak memory is what wait4 reports for the runtime's whole process tree: the largest
resident set of any one process in it (runtime, helper processes, container program).
Each run is launched by scripts/peak-rss.c, a tiny C launcher, because a child forked by
Python would count Python's own memory (ru_maxrss survives execve).

Needs root; installs nothing (runc comes from `apt-get install runc`)."""
import json, os, shutil, statistics, subprocess, sys, tempfile

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
here = os.path.dirname(os.path.abspath(__file__))
learnctr = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/learnctr")
runtimes = [("learnctr", learnctr)] + [(n, p) for n in ("runc", "crun", "youki") if (p := shutil.which(n))]
if os.geteuid() != 0:
    sys.exit("bench: needs root (sudo make bench)")

work = tempfile.mkdtemp(prefix="learnctr-bench-")
try:
    launcher = os.path.join(work, "peak-rss")
    subprocess.run(["cc", "-O2", "-o", launcher, os.path.join(here, "peak-rss.c")], check=True)
    store = os.path.join(work, "store")
    env = dict(os.environ, LEARNCTR_STORE_DIR=store, NO_COLOR="1")
    subprocess.run([learnctr, "rootfs", "fetch", "busybox"], env=env, check=True, stdout=subprocess.DEVNULL)
    bundle = os.path.join(work, "bundle")
    os.makedirs(bundle)
    os.rename(os.path.join(store, "rootfs", "busybox"), os.path.join(bundle, "rootfs"))
    subprocess.run([learnctr, "spec", "--bundle", bundle], check=True)
    config_path = os.path.join(bundle, "config.json")
    config = json.load(open(config_path))
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    json.dump(config, open(config_path, "w"))

    def once(argv, extra_env=None):
        """(wall seconds, peak KiB, stderr) of one run through the launcher."""
        out = os.path.join(work, "peak-rss.out")
        proc = subprocess.run([launcher, out] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=dict(env, **(extra_env or {})), check=True)
        err = proc.stderr
        line = open(out).read().split()
        status, ns, kib = int(line[0]), int(line[1]), int(line[2])
        if status != 0:
            sys.exit(f"bench: {' '.join(argv[:4])} failed ({status}): {err.decode()}")
        return ns / 1e9, kib, err.decode()

    def runtime_argv(name, path, i):
        return [path, "--root", os.path.join(work, "root-" + name), "run", "--bundle", bundle, f"bench-{name}-{i}"]

    # `learnctr shell -- /bin/true` on the same root filesystem: the finale's whole
    # path (bundle with an overlay root, create, the host-side summary, start, delete).
    rootfs = os.path.join(bundle, "rootfs")
    shell_argv = [learnctr, "--rootfs", rootfs, "shell", "--", "/bin/true"]
    results = {name: ([], []) for name, _ in runtimes}
    results["learnctr shell"] = ([], [])
    for i in range(RUNS):
        for name, path in runtimes:
            wall, kib, _ = once(runtime_argv(name, path, i))
            results[name][0].append(wall)
            results[name][1].append(kib)
        wall, kib, _ = once(shell_argv)
        results["learnctr shell"][0].append(wall)
        results["learnctr shell"][1].append(kib)
    print(f"runtime: {RUNS} runs each of /bin/true from the same bundle, alternating "
          "(and `learnctr shell -- /bin/true` on its root filesystem)")
    for name, (walls, kib) in results.items():
        print(f"  {name:<15} median {statistics.median(walls) * 1000:6.1f} ms   "
              f"peak memory {max(kib) / 1024:5.1f} MiB")
    if "runc" in results:
        ratio = statistics.median(results["learnctr"][0]) / statistics.median(results["runc"][0])
        mem = max(results["learnctr"][1]) / max(results["runc"][1])
        print(f"  learnctr / runc: wall {ratio:.2f}x, peak memory {mem:.2f}x")
        shell = statistics.median(results["learnctr shell"][0]) / statistics.median(results["runc"][0])
        print(f"  learnctr shell -- /bin/true / runc run: wall {shell:.2f}x")
    else:
        print("  (runc is not installed: apt-get install runc to compare)")

    # Back to back: each runtime alone, one run right after the other. The first move
    # into a cgroup after a pause waits for an RCU grace period (see
    # src/runtime/create.rs, spawn_init); back to back, the previous run keeps that lock
    # warm, so these figures are each runtime's own work. learnctr's runs print their
    # LEARNCTR_TIMING marks, which say where its time goes.
    phases, alone = {}, {name: [] for name, _ in runtimes}
    for name, path in runtimes:
        for i in range(RUNS):
            extra = {"LEARNCTR_TIMING": "1"} if name == "learnctr" else {}
            wall, _, err = once(runtime_argv(name, path, f"b{i}"), extra)
            alone[name].append(wall * 1000)
            marks = []
            for line in err.splitlines():
                parts = line.rsplit(" ", 1)
                if line.startswith("learnctr-timing ") and len(parts) == 2 and parts[1].isdigit():
                    marks.append((parts[0][len("learnctr-timing "):], int(parts[1])))
            marks.sort(key=lambda m: m[1])
            for (_, before), (label, at) in zip(marks, marks[1:]):
                phases.setdefault(label, []).append((at - before) / 1e6)
            if marks:
                outside = wall * 1000 - (marks[-1][1] - marks[0][1]) / 1e6
                phases.setdefault("exec of learnctr until main, and exit after delete", []).append(outside)
    print(f"back to back: {RUNS} runs of each runtime in a row (the cgroup lock stays warm)")
    for name, walls in alone.items():
        print(f"  {name:<9} median {statistics.median(walls):6.1f} ms")
    if "runc" in alone:
        print(f"  learnctr / runc: wall {statistics.median(alone['learnctr']) / statistics.median(alone['runc']):.2f}x")
    if phases:
        print("where learnctr's time goes, back to back (median ms of each phase, ending at the mark named):")
        for label, values in sorted(phases.items(), key=lambda p: -statistics.median(p[1])):
            print(f"  {statistics.median(values):6.2f}  {label}")
finally:
    shutil.rmtree(work, ignore_errors=True)
