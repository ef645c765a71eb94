//! `learnctr image ...` end to end, as root, each test in a store of its own
//! (`LEARNCTR_STORE_DIR` under Cargo's scratch directory): images made by the standard
//! tools (buildah, skopeo) pulled from a private registry, unpacked and run; images
//! pushed by learnctr run by Podman; the same tree as umoci unpacks; a corpus of hostile
//! layers refused before anything is written; export and import in both formats.
//! The registry and the tools are private (tests/common/contract_registry.rs); images written by
//! hand come from tests/oci_layout.py, which can write any tar entry, hostile ones too.

mod common;

use common::contract_registry::{http_get, Registry, Tools};
use common::engines::{self, run_for, Ran};
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A test's scratch directory (`dir`) and its store (`dir/store`), removed at the end.
struct Scratch {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    store: PathBuf,
}

fn scratch() -> Scratch {
    let tmp = tempfile::Builder::new().prefix("learnctr-images-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = tmp.path().to_path_buf();
    Scratch { store: dir.join("store"), dir, _tmp: tmp }
}

/// `learnctr image ARGS` on `store`, at most two minutes (a hang fails, it never hangs
/// the suite). No proxy of the host's: the registries are on this machine.
fn image(store: &Path, args: &[&str]) -> Ran {
    let all: Vec<&str> = ["image"].into_iter().chain(args.iter().copied()).collect();
    let mut cmd = learnctr(&all);
    cmd.env("LEARNCTR_STORE_DIR", store);
    for v in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"] {
        cmd.env_remove(v);
    }
    run_for(cmd, 120)
}

fn ok(ran: Ran) -> Ran {
    assert_eq!(ran.code, Some(0), "this should have worked:\n{}", ran.show());
    ran
}

/// What a refusal must look like: a non-zero exit of its own (not a signal, not our
/// timeout) and one sentence on stderr, no panic or backtrace. None when it is one.
fn not_one_sentence(ran: &Ran) -> Option<String> {
    let err = ran.stderr.trim();
    let problem = match ran.code {
        None => "it was killed (a signal or the timeout)",
        Some(0) => "it succeeded",
        Some(_) if err.is_empty() => "it said nothing on stderr",
        Some(_) if err.lines().count() != 1 => "stderr is not one line",
        Some(_) if err.contains("panicked") || err.contains("RUST_BACKTRACE") => "it panicked",
        Some(_) => return None,
    };
    Some(format!("{problem}:\n{}", ran.show()))
}

fn refused(ran: &Ran) {
    if let Some(problem) = not_one_sentence(ran) {
        panic!("this should have been refused with one sentence, but {problem}");
    }
}

/// The host architecture as image configs name it.
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}

/// Write an image by hand (tests/oci_layout.py: see its description format) to `out`:
/// an OCI layout, or with `"format": "docker"` a `docker save` tarball. Returns what it
/// wrote: manifest, config and layer digests, diff_ids.
fn write_image(out: &Path, mut spec: Value) -> Value {
    spec["out"] = out.display().to_string().into();
    if spec.get("architecture").is_none() {
        spec["architecture"] = oci_arch().into();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oci_layout.py");
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    cmd.arg(script).arg(spec.to_string());
    let ran = run_for(cmd, 60);
    assert_eq!(ran.code, Some(0), "tests/oci_layout.py failed:\n{}", ran.show());
    serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("oci_layout.py printed no JSON ({e}): {}", ran.show()))
}

fn dir(path: &str) -> Value {
    json!({"type": "dir", "path": path})
}

fn file(path: &str, content: &str) -> Value {
    json!({"type": "file", "path": path, "content": content})
}

fn symlink(path: &str, target: &str) -> Value {
    json!({"type": "symlink", "path": path, "target": target})
}

fn hardlink(path: &str, target: &str) -> Value {
    json!({"type": "hardlink", "path": path, "target": target})
}

/// A whole host directory as one layer's first entries (root:root).
fn tree_of(path: &Path) -> Value {
    json!({"type": "tree", "from": path.display().to_string()})
}

/// One image with these layers (each a list of entries) and this `config.config`.
fn layers(list: Vec<Vec<Value>>, config: Value) -> Value {
    let layers: Vec<Value> =
        list.into_iter().enumerate().map(|(n, e)| json!({"entries": e, "created_by": format!("step {n}")})).collect();
    json!({"layers": layers, "config": config, "ref": "1"})
}

/// A small image that is fine in every way: two layers, two files.
fn good_image(out: &Path) -> Value {
    let one = vec![dir("etc"), file("etc/motd", "hello from a good image\n")];
    write_image(out, layers(vec![one, vec![file("etc/second", "two\n")]], json!({"Cmd": ["/bin/sh"]})))
}

fn store_index(store: &Path) -> Option<Value> {
    let bytes = std::fs::read(store.join("images/index.json")).ok()?;
    Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("the store's index.json is not JSON: {e}")))
}

/// The manifest digest the store's index.json gives `reference`
/// (`org.opencontainers.image.ref.name`), if it holds it.
fn stored_digest(store: &Path, reference: &str) -> Option<String> {
    let index = store_index(store)?;
    let manifests = index["manifests"].as_array()?.clone();
    let named = |m: &&Value| m["annotations"]["org.opencontainers.image.ref.name"] == reference;
    manifests.iter().find(named).map(|m| m["digest"].as_str().unwrap().to_string())
}

fn stored_blob(store: &Path, digest: &str) -> Vec<u8> {
    let path = store.join("images/blobs/sha256").join(digest.trim_start_matches("sha256:"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("the store has no blob {digest}: {e}"))
}

fn stored_json(store: &Path, digest: &str) -> Value {
    serde_json::from_slice(&stored_blob(store, digest)).unwrap()
}

/// Every path under `root` (relative) with its type, mode, owner, size and link target:
/// a photograph in which any file written, removed or changed shows. Sockets, devices
/// and fifos show as their type.
fn photo(root: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else { continue };
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let link = std::fs::read_link(&p).map(|t| format!(" -> {}", t.display())).unwrap_or_default();
        let kind = m.file_type();
        let what = if kind.is_dir() {
            "dir"
        } else if kind.is_symlink() {
            "symlink"
        } else if kind.is_file() {
            "file"
        } else {
            "special"
        };
        let size = if kind.is_file() { m.len() } else { 0 };
        found.insert(rel, format!("{what} {:o} {}:{} {size}{link}", m.mode() & 0o7777, m.uid(), m.gid()));
        if kind.is_dir() {
            stack.extend(std::fs::read_dir(&p).into_iter().flatten().flatten().map(|e| e.path()));
        }
    }
    found
}

/// What changed between two photographs, one line each (at most 30).
fn changes(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, was) in before {
        match after.get(path) {
            None => out.push(format!("removed {path} ({was})")),
            Some(now) if now != was => out.push(format!("changed {path}: {was} => {now}")),
            _ => {}
        }
    }
    out.extend(after.iter().filter(|(p, _)| !before.contains_key(*p)).map(|(p, now)| format!("new {p} ({now})")));
    out.truncate(30);
    out
}

/// `learnctr --root STATE run --bundle BUNDLE ID`, stdio not inherited (the bundle is
/// not interactive).
fn run_bundle(state: &Path, bundle: &Path, id: &str) -> Ran {
    let args = ["--root", state.to_str().unwrap(), "run", "--bundle", bundle.to_str().unwrap(), id];
    run_for(learnctr(&args), 60)
}

fn read_config(bundle: &Path) -> Value {
    let bytes =
        std::fs::read(bundle.join("config.json")).unwrap_or_else(|e| panic!("unpack wrote no config.json: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("unpack's config.json is not JSON: {e}"))
}

/// The host as the test found it, and the engines' directories and processes as
/// they were (`extras`): the tools must not write /var/lib/containers or leave a process.
fn assert_same(t: &RootTest, extras: &engines::HostExtras, test: &str) {
    t.assert_same_host(test);
    engines::assert_same_extras(extras, &engines::host_extras(), test);
}

fn must(ran: Ran, what: &str) -> Ran {
    assert_eq!(ran.code, Some(0), "{what} failed:\n{}", ran.show());
    ran
}

/// The harness alone, which works before `learnctr image` exists: a registry starts, a
/// layout written by hand is pushed to it with skopeo and is there, and it stops
/// without a trace.
#[test]
fn the_registry_starts_and_stops() {
    let Some(t) = root_test("the_registry_starts_and_stops") else { return };
    let extras = engines::host_extras();
    let s = scratch();
    let registry = Registry::start();
    let (dir, port) = (registry.dir.clone(), registry.port());
    {
        let tools = Tools::new();
        let layout = s.dir.join("layout");
        good_image(&layout);
        let dest = format!("docker://{}/harness:1", registry.url());
        let src = format!("oci:{}:1", layout.display());
        must(tools.skopeo(&["copy", "--dest-tls-verify=false", &src, &dest]), "skopeo copy to the registry");
        assert_eq!(registry.manifest_status("harness", "1"), Some(200), "the registry does not hold harness:1");
        let inspect = must(tools.skopeo(&["inspect", "--tls-verify=false", &dest]), "skopeo inspect");
        assert!(inspect.stdout.contains("\"Layers\""), "{}", inspect.show());
    }
    drop(registry);
    assert!(!dir.exists(), "the registry's directory {} remains", dir.display());
    assert!(http_get(port, "/v2/", "*/*").is_none(), "something still answers on 127.0.0.1:{port}");
    drop(s);
    assert_same(&t, &extras, "the_registry_starts_and_stops");
}

/// The image buildah makes from the BusyBox rootfs, with an entrypoint, a command, an
/// environment variable and a working directory, pushed by skopeo to `registry` as
/// demo:1. Returns its manifest digest as the registry has it.
fn push_busybox_with_skopeo(tools: &Tools, registry: &Registry, rootfs: &Path) -> String {
    must(tools.buildah(&["from", "--name", "demo", "scratch"]), "buildah from scratch");
    must(tools.buildah(&["copy", "demo", rootfs.to_str().unwrap(), "/"]), "buildah copy");
    let config = ["config", "--entrypoint", r#"["/bin/echo"]"#, "--cmd", "learnctr-image-ok"];
    must(
        tools.buildah(&[&config[..], &["--env", "LEARNCTR_IMAGE=yes", "--workingdir", "/tmp", "demo"]].concat()),
        "buildah config",
    );
    must(tools.buildah(&["commit", "--format", "oci", "demo", "localhost/demo:1"]), "buildah commit");
    let dest = format!("docker://{}/demo:1", registry.url());
    let src = tools.storage_ref("localhost/demo:1");
    must(tools.skopeo(&["copy", "--dest-tls-verify=false", &src, &dest]), "skopeo copy to the registry");
    let inspect = must(tools.skopeo(&["inspect", "--tls-verify=false", &dest]), "skopeo inspect");
    let inspect: Value = serde_json::from_str(&inspect.stdout).unwrap();
    inspect["Digest"].as_str().unwrap().to_string()
}

#[test]
fn an_image_pushed_by_skopeo_is_pulled_unpacked_and_run() {
    let Some(t) = root_test("an_image_pushed_by_skopeo_is_pulled_unpacked_and_run") else { return };
    let extras = engines::host_extras();
    let s = scratch();
    let (tools, registry) = (Tools::new(), Registry::start());
    let rootfs = busybox_rootfs(&s.dir.join("busybox"));
    let digest = push_busybox_with_skopeo(&tools, &registry, &rootfs);
    let reference = format!("{}/demo:1", registry.url());

    let pulled = ok(image(&s.store, &["pull", &reference]));
    assert!(!pulled.stdout.trim().is_empty(), "pull says what it fetched:\n{}", pulled.show());
    assert_eq!(stored_digest(&s.store, &reference).as_deref(), Some(digest.as_str()), "the store's index.json");
    let listed = ok(image(&s.store, &["list"]));
    assert!(listed.stdout.lines().any(|l| l.contains(&reference)), "list shows {reference}:\n{}", listed.show());

    let bundle = s.dir.join("bundle");
    ok(image(&s.store, &["unpack", &reference, bundle.to_str().unwrap()]));
    let busybox = std::fs::symlink_metadata(bundle.join("rootfs/bin/busybox")).expect("rootfs/bin/busybox");
    assert!(busybox.is_file() && busybox.mode() & 0o111 != 0, "bin/busybox is an executable file");
    assert_eq!(std::fs::read_link(bundle.join("rootfs/bin/sh")).unwrap(), Path::new("/bin/busybox"));
    // The runtime spec comes from the image config: Entrypoint + Cmd, Env, WorkingDir.
    let config = read_config(&bundle);
    assert_eq!(config["process"]["args"], json!(["/bin/echo", "learnctr-image-ok"]), "{config:#}");
    let env = config["process"]["env"].as_array().cloned().unwrap_or_default();
    assert!(env.contains(&json!("LEARNCTR_IMAGE=yes")), "the image's Env is in process.env: {env:?}");
    assert_eq!(config["process"]["cwd"], "/tmp", "WorkingDir is process.cwd");
    assert_eq!(config["process"]["terminal"], json!(false), "a bundle from an image has no terminal");

    let run = run_bundle(&s.dir.join("state"), &bundle, "image-a");
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(run.stdout.trim(), "learnctr-image-ok", "{}", run.show());
    drop((tools, registry, s));
    assert_same(&t, &extras, "an_image_pushed_by_skopeo_is_pulled_unpacked_and_run");
}

/// The BusyBox rootfs as a one-layer OCI layout, running `cmd`.
fn busybox_layout(s: &Scratch, out: &Path, cmd: &[&str]) -> Value {
    let rootfs = busybox_rootfs(&s.dir.join("busybox"));
    write_image(out, layers(vec![vec![tree_of(&rootfs)]], json!({"Cmd": cmd, "Env": ["PATH=/bin:/sbin"]})))
}

#[test]
fn an_image_pushed_by_learnctr_is_pulled_and_run_by_podman() {
    let Some(t) = root_test("an_image_pushed_by_learnctr_is_pulled_and_run_by_podman") else { return };
    let extras = engines::host_extras();
    let s = scratch();
    let registry = Registry::start();
    let reference = format!("{}/built:1", registry.url());
    let layout = s.dir.join("layout");
    busybox_layout(&s, &layout, &["/bin/sh"]);
    ok(image(&s.store, &["import", layout.to_str().unwrap(), "--tag", &reference]));
    let digest = stored_digest(&s.store, &reference).expect("import --tag names the image in index.json");
    ok(image(&s.store, &["push", &reference]));
    assert_eq!(registry.manifest_status("built", "1"), Some(200), "the registry does not hold built:1 after push");

    // Podman pulls it as any image, and runs it with runc.
    let podman = engines::podman();
    must(podman.engine.run("runc", &["pull", "--tls-verify=false", &reference]), "podman pull");
    let pulled =
        must(podman.engine.run("runc", &["image", "inspect", "--format", "{{.Digest}}", &reference]), "inspect");
    assert_eq!(pulled.stdout.trim(), digest, "the manifest Podman pulled is the one learnctr stored");
    let ran = must(podman.engine.run("runc", &["run", "--rm", &reference, "/bin/echo", "ok"]), "podman run");
    assert_eq!(ran.stdout.trim(), "ok", "{}", ran.show());

    // Pushed under another name (DEST-REF), the same manifest.
    ok(image(&s.store, &["push", &reference, &format!("{}/copy:2", registry.url())]));
    assert_eq!(registry.manifest_status("copy", "2"), Some(200), "push REF DEST-REF pushes to DEST-REF");
    drop((podman, registry, s));
    assert_same(&t, &extras, "an_image_pushed_by_learnctr_is_pulled_and_run_by_podman");
}

/// Every entry under `root` with what umoci and learnctr must agree on: type, mode,
/// owner, link count, contents (a hash: both sides are compared, not trusted) and link
/// target. Directory mtimes and the rest of the metadata are not compared.
fn describe_tree(root: &Path) -> BTreeMap<String, String> {
    use std::hash::{Hash, Hasher};
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let t = m.file_type();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let what = if t.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
            "dir".to_string()
        } else if t.is_symlink() {
            format!("symlink -> {}", std::fs::read_link(&p).unwrap().display())
        } else if t.is_file() {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(&p).unwrap().hash(&mut h);
            format!("file {} bytes {:016x} links {}", m.len(), h.finish(), m.nlink())
        } else {
            format!("special {:o} rdev {}", m.mode() & 0o170000, m.rdev())
        };
        if !rel.is_empty() {
            found.insert(rel, format!("{what} mode {:o} owner {}:{}", m.mode() & 0o7777, m.uid(), m.gid()));
        }
    }
    found
}

#[test]
fn learnctr_and_umoci_unpack_the_same_tree() {
    let Some(t) = root_test("learnctr_and_umoci_unpack_the_same_tree") else { return };
    let extras = engines::host_extras();
    let s = scratch();
    let rootfs = busybox_rootfs(&s.dir.join("busybox"));
    let mode = |e: Value, mode: u32, owner: u32| {
        let mut e = e;
        e["mode"] = mode.into();
        e["uid"] = owner.into();
        e["gid"] = owner.into();
        e
    };
    let one = vec![
        tree_of(&rootfs),
        dir("data"),
        file("data/a", "a\n"),
        file("data/b", "b\n"),
        symlink("data/to-b", "b"),
        hardlink("data/hard-b", "data/b"),
        mode(file("data/private", "secret\n"), 0o750, 1000),
        mode(file("data/setuid", "#!/bin/sh\n"), 0o4755, 0),
        mode(dir("data/owned"), 0o700, 1000),
        dir("filled"),
        file("filled/one", "1\n"),
        dir("filled/sub"),
        file("filled/sub/two", "2\n"),
        dir("gone"),
        file("gone/inside", "x\n"),
        file("changed", "old\n"),
    ];
    let two = vec![
        file("new", "new\n"),
        file("data/.wh.a", ""),
        file("filled/.wh..wh..opq", ""),
        file("filled/fresh", "fresh\n"),
        file(".wh.gone", ""),
        mode(file("changed", "new contents\n"), 0o600, 0),
    ];
    let layout = s.dir.join("layout");
    write_image(&layout, layers(vec![one, two], json!({"Cmd": ["/bin/sh"]})));

    let tools = Tools::new();
    let umoci = s.dir.join("umoci");
    let spec = format!("{}:1", layout.display());
    must(tools.umoci(&["unpack", "--image", &spec, umoci.to_str().unwrap()]), "umoci unpack");
    ok(image(&s.store, &["import", layout.to_str().unwrap(), "--tag", "localhost/tree:1"]));
    let ours = s.dir.join("learnctr");
    ok(image(&s.store, &["unpack", "localhost/tree:1", ours.to_str().unwrap()]));

    let (theirs, mine) = (describe_tree(&umoci.join("rootfs")), describe_tree(&ours.join("rootfs")));
    let differences = changes(&theirs, &mine);
    assert!(
        differences.is_empty(),
        "learnctr's tree differs from umoci's (umoci => learnctr):\n{}",
        differences.join("\n")
    );
    // What the layers say, checked on their own too (in case both were wrong alike).
    let r = ours.join("rootfs");
    assert!(!r.join("data/a").exists() && !r.join("gone").exists() && !r.join("filled/one").exists());
    assert!(r.join("filled/fresh").is_file() && r.join("data/hard-b").is_file());
    assert_eq!(std::fs::read_to_string(r.join("changed")).unwrap(), "new contents\n");
    assert_eq!(std::fs::metadata(r.join("data/setuid")).unwrap().permissions().mode() & 0o7777, 0o4755);
    drop((tools, s));
    assert_same(&t, &extras, "learnctr_and_umoci_unpack_the_same_tree");
}

/// One hostile image: its layers (or a fault of the layout), and whether refusing it at
/// unpack is as good as at import (a layer writing through a symlink an earlier layer
/// made is harmless in the store; it must never be applied through the link).
struct Hostile {
    name: &'static str,
    layers: Vec<Vec<Value>>,
    fault: Option<Value>,
    unpack_may_refuse: bool,
}

fn hostile(name: &'static str, layers: Vec<Vec<Value>>) -> Hostile {
    Hostile { name, layers, fault: None, unpack_may_refuse: false }
}

fn faulty(name: &'static str, kind: &str) -> Hostile {
    let layers = vec![vec![dir("etc"), file("etc/motd", "fine\n")], vec![file("etc/two", "2\n")]];
    Hostile { name, layers, fault: Some(json!({"kind": kind, "layer": 1})), unpack_may_refuse: false }
}

fn hostile_corpus(canary: &Path) -> Vec<Hostile> {
    let base = || vec![dir("a"), file("a/f", "f\n"), file("f", "a file\n")];
    let canary = canary.display().to_string();
    let pwned = format!("evil/tmp/learnctr-pwned-{}", std::process::id());
    vec![
        hostile("a whiteout of `..` (a/.wh..)", vec![base(), vec![file("a/.wh..", "")]]),
        hostile("a whiteout of `..` used as a directory (.wh../x)", vec![base(), vec![file(".wh../x", "")]]),
        hostile("a whiteout whose path climbs (../.wh.x)", vec![base(), vec![file("../.wh.x", "")]]),
        hostile("an absolute whiteout that climbs (/../.wh.x)", vec![base(), vec![file("/../.wh.x", "")]]),
        hostile("a file whose path climbs (../outside/x)", vec![base(), vec![file("../outside/x", "pwned\n")]]),
        hostile("an opaque marker in a regular file (f/.wh..wh..opq)", vec![base(), vec![file("f/.wh..wh..opq", "")]]),
        hostile("a hard link to a file of an earlier layer", vec![base(), vec![hardlink("g", "f")]]),
        hostile("a hard link that climbs (../../etc/passwd)", vec![base(), vec![hardlink("p", "../../etc/passwd")]]),
        hostile("an absolute hard link (/etc/shadow)", vec![base(), vec![hardlink("s", "/etc/shadow")]]),
        Hostile {
            name: "a write through a symlink to / (evil -> /, evil/tmp/...)",
            layers: vec![vec![symlink("evil", "/")], vec![file(&pwned, "pwned\n")]],
            fault: None,
            unpack_may_refuse: true,
        },
        Hostile {
            name: "a whiteout through a symlink (lnk -> canary, lnk/.wh.keep)",
            layers: vec![vec![symlink("lnk", &canary)], vec![file("lnk/.wh.keep", "")]],
            fault: None,
            unpack_may_refuse: true,
        },
        faulty("a blob whose content does not match its digest", "corrupt_blob"),
        faulty("a manifest naming a missing blob", "missing_blob"),
        faulty("a truncated layer (cut gzip)", "truncate"),
        faulty("a diff_id that is not the layer's", "diff_id"),
        faulty("a manifest of an unknown media type", "media_type"),
    ]
}

/// Link counts of host files a hard link could reach.
fn host_links() -> Vec<(String, u64)> {
    let files = ["/etc/passwd", "/etc/shadow"];
    files.iter().map(|f| (f.to_string(), std::fs::metadata(f).map(|m| m.nlink()).unwrap_or(0))).collect()
}

/// A hostile image the store accepted: unpack it into a new directory beside the
/// store; what it wrote outside that directory, and whether a refusal was wanted but
/// not given.
fn unpack_accepted(s: &Scratch, n: usize, tag: &str, was: &BTreeMap<String, String>, must_refuse: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let target = format!("unpack-{n}");
    let unpacked = image(&s.store, &["unpack", tag, s.dir.join(&target).to_str().unwrap()]);
    match (not_one_sentence(&unpacked), must_refuse) {
        (Some(p), true) => problems.push(format!("import accepted it, and unpack was not refused: {p}")),
        (None, true) => {}
        // Already a failure of import's: what unpack then did, for the message.
        (_, false) => problems.push(format!("then unpack:\n{}", unpacked.show())),
    }
    let inside = |p: &String, dir: &str| p == dir || p.starts_with(&format!("{dir}/"));
    let elsewhere = |p: &String| !inside(p, &target) && !inside(p, "store");
    let mut after = photo(&s.dir);
    after.retain(|p, _| elsewhere(p));
    let mut was = was.clone();
    was.retain(|p, _| elsewhere(p));
    problems.extend(changes(&was, &after).into_iter().map(|c| format!("outside the target: {c}")));
    let _ = std::fs::remove_dir_all(s.dir.join(&target));
    let _ = image(&s.store, &["remove", tag]);
    problems
}

/// Each case in a directory of its own: `layout/` (the image), `outside/` (must stay
/// empty), `canary/keep` (must survive); the store beside them holds a good image
/// first, so that index.json exists and must stay byte for byte the same.
#[test]
fn hostile_layers_are_refused_and_write_nothing_outside() {
    let Some(t) = root_test("hostile_layers_are_refused_and_write_nothing_outside") else { return };
    let s = scratch();
    let good = s.dir.join("good");
    good_image(&good);
    ok(image(&s.store, &["import", good.to_str().unwrap(), "--tag", "localhost/good:1"]));
    let links = host_links();
    let mut failures = Vec::new();
    let canary_root = s.dir.join("canary");
    std::fs::create_dir_all(&canary_root).unwrap();
    std::fs::write(canary_root.join("keep"), "keep\n").unwrap();
    std::fs::create_dir_all(s.dir.join("outside")).unwrap();
    for (n, case) in hostile_corpus(&canary_root).into_iter().enumerate() {
        let layout = s.dir.join(format!("case-{n}"));
        let mut spec = layers(case.layers, json!({}));
        spec["fault"] = case.fault.unwrap_or(Value::Null);
        write_image(&layout, spec);
        let everything = photo(&s.dir);
        let tag = format!("localhost/hostile:{n}");
        let imported = image(&s.store, &["import", layout.to_str().unwrap(), "--tag", &tag]);
        let mut problems = Vec::new();
        if imported.code == Some(0) {
            if !case.unpack_may_refuse {
                problems.push(format!("import accepted it:\n{}", imported.show()));
            }
            problems.extend(unpack_accepted(&s, n, &tag, &everything, case.unpack_may_refuse));
        } else if let Some(p) = not_one_sentence(&imported) {
            problems.push(format!("import was not refused with one sentence: {p}"));
        }
        if imported.code != Some(0) {
            // Refused: nothing changed anywhere, the store included (no blob, no
            // temporary file, the same index.json).
            problems.extend(changes(&everything, &photo(&s.dir)));
        }
        if stored_digest(&s.store, &tag).is_some() {
            problems.push(format!("{tag} is in the store's index.json"));
        }
        if std::fs::read_dir(s.dir.join("outside")).map(|d| d.count()).unwrap_or(1) != 0 {
            problems.push("outside/ is not empty".into());
        }
        if !canary_root.join("keep").is_file() {
            problems.push("canary/keep was deleted".into());
            std::fs::write(canary_root.join("keep"), "keep\n").unwrap();
        }
        if Path::new(&format!("/tmp/learnctr-pwned-{}", std::process::id())).exists() {
            problems.push("it wrote /tmp/learnctr-pwned-* on the host".into());
            let _ = std::fs::remove_file(format!("/tmp/learnctr-pwned-{}", std::process::id()));
        }
        if host_links() != links {
            problems.push(format!("host link counts changed: {links:?} => {:?}", host_links()));
        }
        if !problems.is_empty() {
            failures.push(format!("case {n}, {}:\n  {}", case.name, problems.join("\n  ")));
        }
        let _ = std::fs::remove_dir_all(&layout);
    }
    assert!(stored_digest(&s.store, "localhost/good:1").is_some(), "the good image is still in the store");
    assert!(failures.is_empty(), "{} hostile cases were not handled:\n{}", failures.len(), failures.join("\n"));
    drop(s);
    t.assert_same_host("hostile_layers_are_refused_and_write_nothing_outside");
}

#[test]
fn a_pull_of_a_tampered_blob_is_refused() {
    let Some(t) = root_test("a_pull_of_a_tampered_blob_is_refused") else { return };
    let extras = engines::host_extras();
    let s = scratch();
    let (tools, registry) = (Tools::new(), Registry::start());
    let layout = s.dir.join("layout");
    let written = good_image(&layout);
    let dest = format!("docker://{}/tampered:1", registry.url());
    must(tools.skopeo(&["copy", "--dest-tls-verify=false", &format!("oci:{}:1", layout.display()), &dest]), "skopeo");
    // The registry serves whatever its data file holds: the same length, other bytes.
    let data = registry.blob_data(written["layers"][0].as_str().unwrap());
    let bytes = std::fs::read(&data).unwrap_or_else(|e| panic!("no blob at {}: {e}", data.display()));
    std::fs::write(&data, bytes.iter().map(|b| b ^ 0x5a).collect::<Vec<u8>>()).unwrap();
    // (A store that already holds these blobs, checked when they were stored, needs none
    // of the registry's: it must be an empty one to be asked for the tampered layer.)
    ok(image(&s.store, &["list"]));
    let store = photo(&s.store);

    let reference = format!("{}/tampered:1", registry.url());
    refused(&image(&s.store, &["pull", &reference]));
    assert_eq!(stored_digest(&s.store, &reference), None, "the tampered image is in the store");
    let left = changes(&store, &photo(&s.store));
    assert!(left.is_empty(), "the refused pull left in the store:\n{}", left.join("\n"));
    drop((tools, registry, s));
    assert_same(&t, &extras, "a_pull_of_a_tampered_blob_is_refused");
}

#[test]
fn a_failed_pull_leaves_nothing() {
    let Some(t) = root_test("a_failed_pull_leaves_nothing") else { return };
    let s = scratch();
    let registry = Registry::start();
    let good = s.dir.join("good");
    good_image(&good);
    ok(image(&s.store, &["import", good.to_str().unwrap(), "--tag", "localhost/good:1"]));
    let store = photo(&s.store);
    // No such repository; no such tag of a repository that exists; nobody listening.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for reference in [
        format!("{}/nothing:1", registry.url()),
        format!("{}/nothing@sha256:{}", registry.url(), "0".repeat(64)),
        format!("127.0.0.1:{nobody}/nothing:1"),
    ] {
        let started = std::time::Instant::now();
        refused(&image(&s.store, &["pull", &reference]));
        assert!(started.elapsed().as_secs() < 60, "pull of {reference} took {:?}", started.elapsed());
        assert_eq!(stored_digest(&s.store, &reference), None);
        let left = changes(&store, &photo(&s.store));
        assert!(left.is_empty(), "the failed pull of {reference} changed the store:\n{}", left.join("\n"));
    }
    drop((registry, s));
    t.assert_same_host("a_failed_pull_leaves_nothing");
}

/// The first IPv4 address of this host that is not loopback: connections to it stay on
/// this machine (the kernel's local table), yet for learnctr it is not loopback.
fn own_address() -> Option<String> {
    let out = std::process::Command::new("ip").args(["-4", "-o", "addr", "show", "scope", "global"]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let word = text.lines().next()?.split_whitespace().skip_while(|w| *w != "inet").nth(1)?.to_string();
    Some(word.split('/').next()?.to_string())
}

#[test]
fn plain_http_only_on_loopback() {
    let Some(t) = root_test("plain_http_only_on_loopback") else { return };
    let s = scratch();
    // A name under .invalid never resolves (RFC 6761): nothing leaves this machine.
    // The sentence names the registry it could not reach.
    let invalid = image(&s.store, &["pull", "example.invalid/x:1"]);
    refused(&invalid);
    assert!(invalid.stderr.contains("example.invalid"), "the refusal names the registry:\n{}", invalid.show());
    assert!(stored_digest(&s.store, "example.invalid/x:1").is_none());

    // A listener of ours on this host's own non-loopback address: learnctr must open
    // TLS there (a ClientHello starts with 0x16), never send a plain `GET`.
    let Some(addr) = own_address() else {
        eprintln!("plain_http_only_on_loopback: no non-loopback IPv4 address here; the TLS check is skipped");
        return;
    };
    let listener = std::net::TcpListener::bind((addr.as_str(), 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let seen = std::thread::spawn(move || {
        let mut accepted = None;
        wait_until(std::time::Duration::from_secs(60), || {
            accepted = listener.accept().ok();
            accepted.is_some()
        });
        let (mut stream, _) = accepted?;
        use std::io::Read;
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let mut first = [0u8; 8];
        let n = stream.read(&mut first).unwrap_or(0);
        Some(first[..n].to_vec())
    });
    let reference = format!("{addr}:{port}/x:1");
    refused(&image(&s.store, &["pull", &reference]));
    // Unblock the listener thread if learnctr never connected.
    let _ = std::net::TcpStream::connect((addr.as_str(), port));
    let first = seen.join().unwrap().unwrap_or_default();
    assert!(!first.starts_with(b"GET"), "learnctr spoke plain HTTP to {addr}, which is not loopback");
    assert!(first.first() == Some(&0x16), "learnctr did not start a TLS handshake with {addr}: {first:?}");
    drop(s);
    t.assert_same_host("plain_http_only_on_loopback");
}

/// The diff_ids of `reference`'s config in the store.
fn stored_diff_ids(store: &Path, reference: &str) -> (String, Value) {
    let digest = stored_digest(store, reference).unwrap_or_else(|| panic!("{reference} is not in the store"));
    let manifest = stored_json(store, &digest);
    let config = manifest["config"]["digest"].as_str().unwrap().to_string();
    let diff_ids = stored_json(store, &config)["rootfs"]["diff_ids"].clone();
    (config, diff_ids)
}

fn not_listed(store: &Path, reference: &str) {
    let listed = ok(image(store, &["list"]));
    assert!(!listed.stdout.contains(reference), "{reference} is still listed:\n{}", listed.show());
    assert_eq!(stored_digest(store, reference), None, "{reference} is still in index.json");
}

#[test]
fn export_and_import_round_trip() {
    let Some(t) = root_test("export_and_import_round_trip") else { return };
    let extras = engines::host_extras();
    let s = scratch();
    let tools = Tools::new();
    let reference = "localhost/round:1";
    let layout = s.dir.join("layout");
    let written = good_image(&layout);
    ok(image(&s.store, &["import", layout.to_str().unwrap(), "--tag", reference]));
    let digest = stored_digest(&s.store, reference).unwrap();
    assert_eq!(digest, written["manifest"].as_str().unwrap(), "an OCI layout is imported as it is");
    let (config, diff_ids) = stored_diff_ids(&s.store, reference);

    // OCI: a layout skopeo can copy (it verifies every digest), imported back by its name.
    let oci = s.dir.join("export-oci");
    ok(image(&s.store, &["export", reference, oci.to_str().unwrap(), "--format", "oci"]));
    must(
        tools.skopeo(&[
            "copy",
            &format!("oci:{}", oci.display()),
            &format!("dir:{}", s.dir.join("copy-oci").display()),
        ]),
        "skopeo reads the OCI export",
    );
    ok(image(&s.store, &["remove", reference]));
    not_listed(&s.store, reference);
    ok(image(&s.store, &["import", oci.to_str().unwrap()]));
    assert_eq!(stored_digest(&s.store, reference), Some(digest.clone()), "the same manifest after export and import");
    let listed = ok(image(&s.store, &["list"]));
    assert!(listed.stdout.contains(reference), "{}", listed.show());

    // Docker: a `docker save` tarball (skopeo reads it), back under its RepoTags, with
    // the same config (Docker's image id) and layers.
    let tarball = s.dir.join("export.tar");
    ok(image(&s.store, &["export", reference, tarball.to_str().unwrap(), "--format", "docker"]));
    let archive = format!("docker-archive:{}", tarball.display());
    must(
        tools.skopeo(&["copy", &archive, &format!("dir:{}", s.dir.join("copy-docker").display())]),
        "skopeo reads the docker export",
    );
    ok(image(&s.store, &["remove", reference]));
    not_listed(&s.store, reference);
    ok(image(&s.store, &["import", tarball.to_str().unwrap()]));
    assert_eq!(stored_diff_ids(&s.store, reference), (config, diff_ids), "the same config and layers");

    // A `docker save` tarball written by hand, and one written by skopeo.
    let saved = s.dir.join("saved.tar");
    let mut spec = layers(vec![vec![dir("etc"), file("etc/saved", "saved by hand\n")]], json!({"Cmd": ["/bin/sh"]}));
    spec["format"] = "docker".into();
    spec["ref"] = "localhost/saved:1".into();
    let saved_written = write_image(&saved, spec);
    ok(image(&s.store, &["import", saved.to_str().unwrap()]));
    assert_eq!(stored_diff_ids(&s.store, "localhost/saved:1").1, saved_written["diff_ids"]);
    let bundle = s.dir.join("saved-bundle");
    ok(image(&s.store, &["unpack", "localhost/saved:1", bundle.to_str().unwrap()]));
    assert_eq!(std::fs::read_to_string(bundle.join("rootfs/etc/saved")).unwrap(), "saved by hand\n");
    let by_skopeo = s.dir.join("skopeo.tar");
    let src = format!("oci:{}:1", layout.display());
    must(
        tools.skopeo(&["copy", &src, &format!("docker-archive:{}:localhost/skopeo:1", by_skopeo.display())]),
        "skopeo",
    );
    ok(image(&s.store, &["import", by_skopeo.to_str().unwrap()]));
    assert_eq!(stored_diff_ids(&s.store, "localhost/skopeo:1").1, written["diff_ids"]);
    drop((tools, s));
    assert_same(&t, &extras, "export_and_import_round_trip");
}

/// Paths in inspect's JSON without the leading or trailing slash.
fn paths(list: &Value) -> Vec<String> {
    let list = list.as_array().cloned().unwrap_or_default();
    list.iter().map(|p| p.as_str().unwrap_or_default().trim_matches('/').to_string()).collect()
}

#[test]
fn inspect_shows_each_layer_and_the_waste() {
    let Some(t) = root_test("inspect_shows_each_layer_and_the_waste") else { return };
    let s = scratch();
    let big = "x".repeat(100_000);
    let one = vec![dir("etc"), file("etc/conf", "one\n"), file("big", &big), file("kept", "kept\n")];
    let two = vec![file("etc/conf", "two\n"), file(".wh.big", ""), file("etc/added", "added\n")];
    let layout = s.dir.join("layout");
    write_image(&layout, layers(vec![one, two], json!({})));
    ok(image(&s.store, &["import", layout.to_str().unwrap(), "--tag", "localhost/waste:1"]));

    let shown = ok(image(&s.store, &["inspect", "localhost/waste:1"]));
    assert!(
        shown.stdout.contains("step 0") && shown.stdout.contains("step 1"),
        "the history commands:\n{}",
        shown.show()
    );
    let j = ok(image(&s.store, &["inspect", "localhost/waste:1", "--json"]));
    let j: Value = serde_json::from_str(&j.stdout).unwrap_or_else(|e| panic!("inspect --json: {e}\n{}", j.show()));
    let layers = j["layers"].as_array().unwrap_or_else(|| panic!("no layers: {j:#}"));
    assert_eq!(layers.len(), 2, "{j:#}");
    for layer in layers {
        assert!(layer["digest"].as_str().is_some_and(|d| d.starts_with("sha256:")) && layer["size"].as_u64().is_some());
    }
    assert_eq!(layers[1]["created_by"], "step 1");
    assert!(paths(&layers[0]["added"]).contains(&"big".to_string()), "{j:#}");
    assert!(paths(&layers[1]["changed"]).contains(&"etc/conf".to_string()), "{j:#}");
    assert!(paths(&layers[1]["removed"]).contains(&"big".to_string()), "{j:#}");
    assert!(paths(&layers[1]["added"]).contains(&"etc/added".to_string()), "{j:#}");
    // The removed 100 kB and the overwritten etc/conf are wasted.
    assert!(j["wasted_bytes"].as_u64().is_some_and(|w| w >= 100_000), "{j:#}");
    let efficiency = j["efficiency"].as_f64().unwrap_or_else(|| panic!("no efficiency: {j:#}"));
    assert!(efficiency > 0.0 && efficiency < 0.5, "{efficiency}");
    drop(s);
    t.assert_same_host("inspect_shows_each_layer_and_the_waste");
}

#[test]
fn the_lessons_example_image_has_three_layers() {
    let Some(t) = root_test("the_lessons_example_image_has_three_layers") else { return };
    let s = scratch();
    ok(image(&s.store, &["build", "--tag", "localhost/lesson:1"]));
    assert!(stored_digest(&s.store, "localhost/lesson:1").is_some(), "build --tag stores the image under its tag");
    let j = ok(image(&s.store, &["inspect", "localhost/lesson:1", "--json"]));
    let j: Value = serde_json::from_str(&j.stdout).unwrap();
    // The root filesystem, a web root, and the change that deletes and replaces.
    assert_eq!(j["layers"].as_array().map(Vec::len), Some(3), "{j:#}");
    let bundle = s.dir.join("bundle");
    ok(image(&s.store, &["unpack", "localhost/lesson:1", bundle.to_str().unwrap()]));
    assert!(bundle.join("rootfs/bin/busybox").is_file());
    // Unpack wants a new (or empty) directory.
    let again = image(&s.store, &["unpack", "localhost/lesson:1", bundle.to_str().unwrap()]);
    refused(&again);
    drop(s);
    t.assert_same_host("the_lessons_example_image_has_three_layers");
}

/// The names in a layer blob of the store (gzip or not), in order, by Python's tarfile.
fn layer_names(blob: &Path) -> Vec<String> {
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    let list = "import sys, tarfile; print('\\n'.join(tarfile.open(sys.argv[1]).getnames()))";
    cmd.args(["-c", list]).arg(blob);
    let ran = run_for(cmd, 30);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    ran.stdout.lines().map(|l| l.trim_start_matches("./").to_string()).collect()
}

#[test]
fn commit_turns_an_overlay_upper_dir_into_a_layer() {
    let Some(t) = root_test("commit_turns_an_overlay_upper_dir_into_a_layer") else { return };
    let s = scratch();
    let base = s.dir.join("base");
    let one = vec![dir("dir"), file("dir/one", "1\n"), file("gone", "gone\n"), file("kept", "kept\n")];
    write_image(&base, layers(vec![one], json!({"Cmd": ["/bin/sh"]})));
    ok(image(&s.store, &["import", base.to_str().unwrap(), "--tag", "localhost/base:1"]));

    // What overlayfs leaves in an upper directory: a 0/0 character device for a deleted
    // file, trusted.overlay.opaque=y on a directory that replaced the lower one.
    let upper = s.dir.join("upper");
    std::fs::create_dir_all(upper.join("dir")).unwrap();
    std::fs::write(upper.join("dir/new"), "new\n").unwrap();
    std::fs::write(upper.join("added"), "added\n").unwrap();
    nix::sys::stat::mknod(&upper.join("gone"), nix::sys::stat::SFlag::S_IFCHR, nix::sys::stat::Mode::empty(), 0)
        .unwrap();
    let (name, attr) =
        (std::ffi::CString::new(upper.join("dir").display().to_string()).unwrap(), c"trusted.overlay.opaque");
    // SAFETY: both strings are NUL-terminated and live across the call.
    let set = unsafe { libc::setxattr(name.as_ptr(), attr.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    assert_eq!(set, 0, "setxattr trusted.overlay.opaque: {}", std::io::Error::last_os_error());

    let args = ["commit", upper.to_str().unwrap(), "--from", "localhost/base:1", "--tag", "localhost/committed:1"];
    ok(image(&s.store, &args));
    let digest = stored_digest(&s.store, "localhost/committed:1").expect("commit --tag stores the image");
    let manifest = stored_json(&s.store, &digest);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "the base's layer and the new one: {manifest:#}");
    let top =
        s.store.join("images/blobs/sha256").join(layers[1]["digest"].as_str().unwrap().trim_start_matches("sha256:"));
    let names = layer_names(&top);
    for wanted in [".wh.gone", "dir/.wh..wh..opq", "dir/new", "added"] {
        assert!(names.iter().any(|n| n == wanted), "the new layer has no {wanted}: {names:?}");
    }
    assert!(!names.iter().any(|n| n == "gone"), "the device itself is not in the layer: {names:?}");

    let bundle = s.dir.join("bundle");
    ok(image(&s.store, &["unpack", "localhost/committed:1", bundle.to_str().unwrap()]));
    let r = bundle.join("rootfs");
    assert!(!r.join("gone").exists() && !r.join("dir/one").exists(), "whiteout and opaque directory applied");
    assert!(r.join("dir/new").is_file() && r.join("kept").is_file() && r.join("added").is_file());
    drop(s);
    t.assert_same_host("commit_turns_an_overlay_upper_dir_into_a_layer");
}
