#!/usr/bin/env python3
"""make bench: the same bundle (`/bin/true`, `runc spec` defaults) run to completion by
learnctr and by runc (and crun or youki when installed), alternating in one run.
Prints the median wall time and the peak memory (max RSS of the runtime process) of
each, and learnctr's ratio to runc. Needs root; installs nothing (runc comes from
`apt-get install runc`)."""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
learnctr = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/learnctr")
runtimes = [("learnctr", learnctr)] + [(n, p) for n in ("runc", "crun", "youki") if (p := shutil.which(n))]
if os.geteuid() != 0:
    sys.exit("bench: needs root (sudo make bench)")

work = tempfile.mkdtemp(prefix="learnctr-bench-")
try:
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

    def once(name, path, i):
        root = os.path.join(work, "root-" + name)
        start = time.perf_counter()
        proc = subprocess.Popen([path, "--root", root, "run", "--bundle", bundle, f"bench-{name}-{i}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"bench: {name} run failed: {proc.stderr.read().decode()}")
        return wall, usage.ru_maxrss

    results = {name: ([], []) for name, _ in runtimes}
    for i in range(RUNS):
        for name, path in runtimes:
            wall, rss = once(name, path, i)
            results[name][0].append(wall)
            results[name][1].append(rss)
    print(f"runtime: {RUNS} runs each of /bin/true, alternating")
    for name, (walls, rss) in results.items():
        print(f"  {name:<9} median {statistics.median(walls) * 1000:7.1f} ms   peak memory {max(rss) / 1024:6.1f} MiB")
    if "runc" in results:
        ratio = statistics.median(results["learnctr"][0]) / statistics.median(results["runc"][0])
        mem = max(results["learnctr"][1]) / max(results["runc"][1])
        print(f"  learnctr / runc: wall {ratio:.2f}x, peak memory {mem:.2f}x")
    else:
        print("  (runc is not installed: apt-get install runc to compare)")
finally:
    shutil.rmtree(work, ignore_errors=True)
