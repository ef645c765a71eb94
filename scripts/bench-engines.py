#!/usr/bin/env python3
"""make bench, engines: `podman run --rm IMAGE true` with learnctr and with runc as
Podman's runtime, alternating, medians and the ratio.

Podman runs privately: its own containers.conf and storage.conf under a temporary
directory (no host configuration, image or container is touched), inside a mount
namespace of its own (`unshare --mount --propagation private`, with a tmpfs on
/var/lib), so its overlay mounts and the cache it writes never reach the host. The image is a BusyBox rootfs made by learnctr.

Needs root and podman (`make deps`)."""
import os, resource, shutil, statistics, subprocess, sys, tempfile, time

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
learnctr = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/learnctr")
if os.geteuid() != 0:
    sys.exit("bench: needs root (sudo make bench)")
if not shutil.which("podman") or not shutil.which("runc"):
    sys.exit("bench: podman and runc are needed (make deps installs them)")

work = tempfile.mkdtemp(prefix="learnctr-bench-podman-")
# learnctr's cgroup parent in each hierarchy, if it exists already (then it stays).
import glob
parents_before = set(glob.glob("/sys/fs/cgroup/*/learnctr") + glob.glob("/sys/fs/cgroup/learnctr"))
try:
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    open(os.path.join(work, "containers.conf"), "w").write(f"""[containers]
default_ulimits = ["nofile={nofile}:{nofile}", "nproc=32768:32768"]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{work}/events.log"
tmp_dir = "{work}/tmp"
volume_path = "{work}/volumes"
[engine.runtimes]
learnctr = ["{learnctr}"]
[network]
network_config_dir = "{work}/net"
""")
    open(os.path.join(work, "storage.conf"), "w").write(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{work}/graph"\nrunroot = "{work}/run"\n')
    env = dict(os.environ, CONTAINERS_CONF=f"{work}/containers.conf",
               CONTAINERS_STORAGE_CONF=f"{work}/storage.conf", NO_COLOR="1", LEARNCTR_STORE_DIR=f"{work}/store")
    subprocess.run([learnctr, "rootfs", "fetch", "busybox"], env=env, check=True, stdout=subprocess.DEVNULL)
    rootfs = f"{work}/store/rootfs/busybox"
    # One shell in a private mount namespace runs every podman command of the bench.
    # Inside, /var/lib is a tmpfs: Podman writes an image cache there whatever its
    # configuration says.
    script = f"""set -e
mount -t tmpfs -o mode=755 tmpfs /var/lib
tar -C {rootfs} -c . | podman import - localhost/learnctr-bench:1 >/dev/null
for i in $(seq {RUNS}); do
  for r in learnctr runc; do
    s=$(date +%s%N); podman --runtime $r run --rm --network none --cgroup-parent /learnctr/bench-podman localhost/learnctr-bench:1 true; e=$(date +%s%N)
    echo "$r $(( (e - s) / 1000 ))"
  done
done
podman rm -af >/dev/null; podman rmi -af >/dev/null
"""
    out = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                         env=env, check=True, capture_output=True, text=True).stdout
    times = {"learnctr": [], "runc": []}
    for line in out.split("\n"):
        if line.strip():
            name, us = line.split()
            times[name].append(int(us) / 1000)
    print(f"podman run --rm IMAGE true, {RUNS} alternating runs each:")
    for name, walls in times.items():
        print(f"  podman on {name:<9} median {statistics.median(walls):6.1f} ms")
    print(f"  learnctr / runc: {statistics.median(times['learnctr']) / statistics.median(times['runc']):.2f}x")
finally:
    # Podman made the cgroups of --cgroup-parent: remove them, and learnctr's parent
    # when this bench made it.
    for dirpath, dirs, _ in os.walk("/sys/fs/cgroup", topdown=False):
        made = dirpath.endswith("/learnctr/bench-podman") or "/learnctr/bench-podman/" in dirpath
        if made or (dirpath.endswith("/learnctr") and dirpath not in parents_before):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    shutil.rmtree(work, ignore_errors=True)
