#!/usr/bin/env python3
"""make bench, images: `learnctr image unpack` against `umoci unpack`, and `learnctr image
pull` against `skopeo copy`, on the same image, alternating, medians and the ratios.

The image is made here, from this machine's own directories (no network): an OCI layout
built with umoci (`umoci new`, then `umoci unpack`, a copy of a host directory, `umoci
repack --refresh-bundle` for each layer), three layers of many small files, the last one
also deleting a directory of the first (a whiteout). The output says what it holds. Not
`umoci insert`: umoci 0.4.7 (Debian 12) does not close the tar of an inserted layer, so the
layer lacks its last padding and end-of-archive blocks (umoci issue 436, fixed by PR 534);
GNU tar, Python's tarfile and learnctr refuse it, umoci and Go's archive/tar read it.

Unpack: the image is imported into a private learnctr store once; then each run makes a
new bundle (rootfs and config.json) with each tool, the bundle deleted (and `sync`) before
the next run, outside the timed part. Nothing else is dropped: the layers are in the page
cache for both. Twice: into the temporary directory (the disk), then into a tmpfs (each
tool's own work, without the disk's file system). Pull: a private `docker-registry` on 127.0.0.1 (a free port, its storage
in the temporary directory) gets the image once from skopeo; then each run pulls it into
an empty store (learnctr) or an empty OCI layout (skopeo).

Everything happens in a temporary directory and, for skopeo's blob-info cache (which root's
skopeo keeps under /var/lib/containers), in a mount namespace of its own with a tmpfs on
/var/lib: the host's mount table and /var/lib stay as they were.

Needs root, umoci, skopeo and docker-registry (`apt-get install umoci skopeo
docker-registry`); a part whose tools are missing is skipped. BENCH_IMAGE_RUNS sets the
number of runs (7)."""
import glob, gzip, json, os, shutil, socket, statistics, subprocess, sys, tarfile, tempfile, time

RUNS = int(os.environ.get("BENCH_IMAGE_RUNS", "7"))
TARGET = 0.5  # the image issue's target: learnctr in at most half of umoci's time
learnctr = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/learnctr")
if os.geteuid() != 0:
    sys.exit("bench: needs root (sudo make bench)")
if not shutil.which("umoci"):
    print("images: skipped, umoci is not installed (apt-get install umoci skopeo docker-registry)")
    sys.exit(0)

# Once, before anything: into a mount namespace of our own (private propagation), where a
# tmpfs on /var/lib catches what skopeo writes there. It ends with this process.
if os.environ.get("LEARNCTR_BENCH_IMAGES_NS") != "1":
    os.environ["LEARNCTR_BENCH_IMAGES_NS"] = "1"
    argv = ["unshare", "--mount", "--propagation", "private", sys.executable, os.path.abspath(__file__)]
    os.execvp("unshare", argv + sys.argv[1:])
subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/var/lib"], check=True)

sys.stdout.reconfigure(line_buffering=True)
work = tempfile.mkdtemp(prefix="learnctr-bench-images-")
registry = ram = None


def run(argv, **kw):
    """Run quietly; on failure, say which command and what it wrote."""
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode().strip()}")


def timed(argv, **kw):
    start = time.perf_counter()
    run(argv, **kw)
    return time.perf_counter() - start


def fresh(path):
    """`path` gone, and its pages written back, before the next timed run."""
    shutil.rmtree(path, ignore_errors=True)
    os.sync()


def layers_of(layout, tag):
    index = json.load(open(os.path.join(layout, "index.json")))
    desc = next(m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)

    def blob(digest):
        return os.path.join(layout, "blobs", *digest.split(":"))

    return [blob(layer["digest"]) for layer in json.load(open(blob(desc["digest"])))["layers"]]


class Counted:
    """A reader that counts the bytes read through it (the uncompressed size of a layer)."""

    def __init__(self, inner):
        self.inner, self.count = inner, 0

    def read(self, n=-1):
        data = self.inner.read(n)
        self.count += len(data)
        return data


def describe(path):
    """(entries, whiteouts, uncompressed bytes, compressed bytes) of one .tar.gz layer."""
    with gzip.open(path) as z:
        counted = Counted(z)
        entries = whiteouts = 0
        with tarfile.open(fileobj=counted, mode="r|") as tar:
            for member in tar:
                entries += 1
                whiteouts += os.path.basename(member.name).startswith(".wh.")
        while counted.read(1 << 20):
            pass
    return entries, whiteouts, counted.count, os.path.getsize(path)


def tree(root):
    """Every path under root with its type, mode, owner and size: to see two unpacks agree."""
    out = set()
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            size = st.st_size if not os.path.isdir(p) or os.path.islink(p) else 0
            out.add((os.path.relpath(p, root), st.st_mode, st.st_uid, st.st_gid, size))
    return out


def filesystem(path):
    """The type of the file system `path` is on, from /proc/self/mountinfo."""
    best, kind = "", "?"
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        mount_point, fs_type = fields[4], fields[fields.index("-") + 1]
        if (path == mount_point or path.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) >= len(best):
            best, kind = mount_point, fs_type
    return kind


def ext4_without_journal(path):
    """ext4 keeps no journal here (its jbd2 thread is "<none>")."""
    if filesystem(path) != "ext4":
        return False
    st = os.stat(path)
    try:
        dev = os.path.basename(os.readlink(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"))
        return open(f"/sys/fs/ext4/{dev}/journal_task").read().strip() == "<none>"
    except OSError:
        return False


def show(name, walls, width):
    print(f"  {name:<{width}} median {statistics.median(walls):6.2f} s   "
          f"(min {min(walls):.2f}, max {max(walls):.2f})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


try:
    env = dict(os.environ, NO_COLOR="1", LEARNCTR_STORE_DIR=os.path.join(work, "store"))

    # The test image: three layers, each the difference `umoci repack` finds after copying
    # one more host directory into the bundle (--refresh-bundle: the next layer is a diff
    # on this one). Python's standard library, Python's packages and Perl's modules on
    # Debian; elsewhere, the first three of these directories that exist.
    sources = []
    for pattern in ("/usr/lib/python3.[0-9]*", "/usr/lib/python3", "/usr/share/perl", "/usr/share/doc",
                    "/usr/share/locale", "/usr/share/zoneinfo"):
        found = sorted((p for p in glob.glob(pattern) if os.path.isdir(p) and not os.path.islink(p)),
                       key=lambda p: [int(x) if x.isdigit() else x for x in p.replace(".", " ").split()])
        if found and len(sources) < 3:
            sources.append(found[-1])
    if not sources:
        sys.exit("bench: none of /usr/lib/python3*, /usr/share/perl, /usr/share/doc, ... to make an image of")
    layout, build = os.path.join(work, "layout"), os.path.join(work, "build")
    run(["umoci", "init", "--layout", layout])
    run(["umoci", "new", "--image", layout + ":bench"])
    run(["umoci", "unpack", "--image", layout + ":bench", build])
    removed = None
    for i, src in enumerate(sources):
        dest = os.path.join(build, "rootfs", src.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        run(["cp", "-a", src, dest])
        if i == len(sources) - 1:
            # The last layer deletes a directory of the first, as `RUN rm -rf` does.
            first = os.path.join(build, "rootfs", sources[0].lstrip("/"))
            subdirs = sorted(d for d in os.listdir(first)
                             if not d.startswith("_") and os.path.isdir(os.path.join(first, d)))
            if subdirs:
                removed = os.path.join(sources[0], subdirs[0])
                shutil.rmtree(os.path.join(first, subdirs[0]))
        run(["umoci", "repack", "--refresh-bundle", "--history.created_by", f"cp -a {src}",
             "--image", layout + ":bench", build])
    shutil.rmtree(build)
    run(["umoci", "config", "--image", layout + ":bench", "--config.cmd", "/bin/sh"])
    run(["umoci", "gc", "--layout", layout])
    print(f"images: a test image made with umoci from this machine's directories, {len(sources)} layers:")
    totals = [0, 0, 0, 0]
    for i, (src, path) in enumerate(zip(sources, layers_of(layout, "bench"))):
        entries, whiteouts, size, packed = d = describe(path)
        totals = [a + b for a, b in zip(totals, d)]
        extra = f", {whiteouts} whiteout: {removed} deleted" if whiteouts else ""
        print(f"  layer {i + 1}: {src:<22} {entries:5} entries {size / 1e6:6.1f} MB "
              f"({packed / 1e6:4.1f} MB gzip){extra}")
    print(f"  total: {totals[0]} entries, {totals[2] / 1e6:.1f} MB uncompressed, {totals[3] / 1e6:.1f} MB gzip")

    # Unpack. umoci unpack also writes an mtree manifest of the root filesystem (every
    # file's SHA-256, for `umoci repack`) and umoci.json: part of its cost, and work
    # learnctr does not do. Each run's order alternates, so neither always goes first.
    # Twice: into the temporary directory (this machine's disk), and into a tmpfs, where
    # no disk and no file system's allocator is in the way: each tool's own work.
    run([learnctr, "image", "import", layout, "--tag", "localhost/bench:1"], env=env)
    ram = os.path.join(work, "tmpfs")
    os.makedirs(ram)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=700", "tmpfs", ram], check=True)
    for place, where in ((f"the temporary directory ({filesystem(work)})", work), ("a tmpfs", ram)):
        d1, d2 = os.path.join(where, "unpack-learnctr"), os.path.join(where, "unpack-umoci")
        tools = {
            "learnctr image unpack": ([learnctr, "image", "unpack", "localhost/bench:1", d1], d1),
            "umoci unpack": (["umoci", "unpack", "--image", layout + ":bench", d2], d2),
        }
        walls = {name: [] for name in tools}
        for i in range(RUNS):
            for name in (list(tools) if i % 2 == 0 else list(tools)[::-1]):
                argv, out = tools[name]
                walls[name].append(timed(argv, env=env))
            if i == 0:
                a, b = tree(os.path.join(d1, "rootfs")), tree(os.path.join(d2, "rootfs"))
                if a != b:
                    sys.exit(f"bench: the two root filesystems differ, e.g. {sorted(a ^ b)[:3]}")
                same = len(a)
            for _, out in tools.values():
                fresh(out)
        print(f"unpack into {place}: {RUNS} alternating runs each, a new bundle from the image "
              f"(the same {same} entries, modes, owners and sizes in both root filesystems)")
        for name in walls:
            show(name, walls[name], 22)
        ratio = statistics.median(walls["learnctr image unpack"]) / statistics.median(walls["umoci unpack"])
        print(f"  learnctr / umoci: {ratio:.2f}x (target {TARGET}x: {'met' if ratio <= TARGET else 'not met'}; "
              "umoci also hashes every file into an mtree manifest)")
        if where == work and ext4_without_journal(work):
            # fs/ext4/ialloc.c, find_inode_bit: without a journal, a new inode skips every
            # inode deleted in the last minute (five more while its inode table block is
            # dirty), reading each one's block. The trees the runs before deleted are those:
            # most of both tools' time here goes to that scan (perf: recently_deleted).
            print("  (ext4 without a journal here: each new file skips the inodes deleted in the last "
                  "minute, those of the runs before; that scan can take most of both tools' time)")
    subprocess.run(["umount", ram], check=True)

    # Pull, from a registry of our own.
    program = shutil.which("docker-registry") or shutil.which("registry")
    if not program or not shutil.which("skopeo"):
        print("pull: skipped, skopeo and docker-registry are needed (apt-get install skopeo docker-registry)")
        sys.exit(0)
    address = f"127.0.0.1:{free_port()}"
    reg = os.path.join(work, "registry")
    os.makedirs(os.path.join(reg, "data"))
    open(os.path.join(reg, "config.yml"), "w").write(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {reg}/data\n"
        f"http:\n  addr: {address}\n")
    registry = subprocess.Popen([program, "serve", os.path.join(reg, "config.yml")], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(address.split(":"), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or registry.poll() is not None:
                sys.exit(f"bench: {program} did not start on {address}")
            time.sleep(0.05)
    # skopeo's own policy (accept anything), not the host's /etc/containers/policy.json.
    policy = os.path.join(work, "policy.json")
    json.dump({"default": [{"type": "insecureAcceptAnything"}]}, open(policy, "w"))
    skopeo = ["skopeo", "--policy", policy]
    run(skopeo + ["copy", "--dest-tls-verify=false", f"oci:{layout}:bench", f"docker://{address}/bench:1"])
    s1, s2 = os.path.join(work, "pull-learnctr"), os.path.join(work, "pull-skopeo")
    pull_env = dict(env, LEARNCTR_STORE_DIR=s1)
    tools = {
        "learnctr image pull": ([learnctr, "image", "pull", f"{address}/bench:1"], s1),
        "skopeo copy": (skopeo + ["copy", "--src-tls-verify=false", f"docker://{address}/bench:1",
                                  f"oci:{s2}:bench"], s2),
    }
    walls = {name: [] for name in tools}
    for i in range(RUNS):
        for name in (list(tools) if i % 2 == 0 else list(tools)[::-1]):
            argv, out = tools[name]
            walls[name].append(timed(argv, env=pull_env))
        if i == 0:
            blobs = [set(os.listdir(os.path.join(p, "blobs", "sha256"))) for p in (s1 + "/images", s2)]
            if blobs[0] != blobs[1]:
                sys.exit(f"bench: the two pulls hold different blobs: {sorted(blobs[0] ^ blobs[1])}")
        for _, out in tools.values():
            fresh(out)
    print(f"pull: {RUNS} alternating runs each, from a registry on 127.0.0.1 into an empty store "
          f"(the same {len(blobs[0])} blobs, each checked against its digest by both; learnctr also "
          "reads every layer through for its diff_id and entries, and syncs each blob to disk)")
    for name in walls:
        show(name, walls[name], 22)
    ratio = statistics.median(walls["learnctr image pull"]) / statistics.median(walls["skopeo copy"])
    print(f"  learnctr / skopeo: {ratio:.2f}x")
finally:
    if ram is not None and os.path.ismount(ram):
        subprocess.run(["umount", "-l", ram])
    if registry is not None:
        registry.terminate()
        try:
            registry.wait(timeout=10)
        except subprocess.TimeoutExpired:
            registry.kill()
            registry.wait()
    shutil.rmtree(work, ignore_errors=True)
