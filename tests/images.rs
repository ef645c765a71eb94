//! `learnctr image` as root, against the real thing: a registry (Debian's docker-registry
//! on 127.0.0.1), images made by buildah and pushed by skopeo, pulled and run by podman,
//! and unpacked by umoci; and a corpus of hostile images, each refused in one sentence
//! with nothing written outside and nothing left in the store.

mod common;

use common::registry::{Registry, Tools};
use common::*;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A store of the test's own (`LEARNCTR_STORE_DIR`), with the test's BusyBox rootfs.
struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    fn new() -> Store {
        let dir = tempfile::tempdir().unwrap();
        busybox_rootfs(dir.path());
        Store { dir }
    }
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = learnctr(args);
        cmd.env("LEARNCTR_STORE_DIR", self.dir.path());
        cmd.output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "learnctr {args:?}: {stdout}\n{stderr}");
        stdout
    }
    fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs/busybox")
    }
    fn images(&self) -> PathBuf {
        self.dir.path().join("images")
    }
    /// The blobs and names of the store, to compare before and after a refusal.
    fn contents(&self) -> (Vec<String>, String) {
        let mut blobs: Vec<String> = std::fs::read_dir(self.images().join("blobs/sha256"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        blobs.sort();
        (blobs, std::fs::read_to_string(self.images().join("index.json")).unwrap_or_default())
    }
}

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", rootfs_fetch::hex(&Sha256::digest(bytes)))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// One tar entry: path, kind, link target, contents.
type E<'a> = (&'a str, tar::EntryType, Option<&'a str>, &'a [u8]);

/// A tar of these entries, written raw (no path checks: hostile names must get through).
fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, kind, link, data) in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(l) = link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(*kind);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// An OCI layout at `dir` with these layers (uncompressed tars, gzipped here unless
/// `edit` changes them), tag `t`; `edit` may spoil the blobs, config or manifest first.
struct Layout {
    dir: PathBuf,
    layers: Vec<Vec<u8>>,
    diff_ids: Vec<String>,
    config: serde_json::Value,
    manifest_type: String,
    missing_layer: bool,
    wrong_bytes: bool,
}

impl Layout {
    fn new(dir: &Path, tars: &[Vec<u8>]) -> Layout {
        Layout {
            dir: dir.to_path_buf(),
            layers: tars.iter().map(|t| gzip(t)).collect(),
            diff_ids: tars.iter().map(|t| sha(t)).collect(),
            config: serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]}}),
            manifest_type: "application/vnd.oci.image.manifest.v1+json".into(),
            missing_layer: false,
            wrong_bytes: false,
        }
    }

    fn blob(&self, bytes: &[u8]) -> serde_json::Value {
        let digest = sha(bytes);
        let blobs = self.dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), bytes).unwrap();
        serde_json::json!({"digest": digest, "size": bytes.len()})
    }

    fn write(&self) {
        let mut config = self.config.clone();
        config["rootfs"] = serde_json::json!({"type": "layers", "diff_ids": self.diff_ids});
        let config = self.blob(&serde_json::to_vec(&config).unwrap());
        let mut layers = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let mut d = self.blob(l);
            d["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip".into();
            let path = self.dir.join("blobs/sha256").join(d["digest"].as_str().unwrap().trim_start_matches("sha256:"));
            if self.missing_layer && i == 0 {
                std::fs::remove_file(&path).unwrap();
            }
            if self.wrong_bytes && i == 0 {
                std::fs::write(&path, b"not the bytes the digest names").unwrap();
            }
            layers.push(d);
        }
        let mut c = config;
        c["mediaType"] = "application/vnd.oci.image.config.v1+json".into();
        let manifest =
            serde_json::json!({"schemaVersion": 2, "mediaType": self.manifest_type, "config": c, "layers": layers});
        let mut m = self.blob(&serde_json::to_vec(&manifest).unwrap());
        m["mediaType"] = self.manifest_type.clone().into();
        m["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "t"});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [m]})).unwrap(),
        )
        .unwrap();
        std::fs::write(self.dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    }
}

/// A refusal: non-zero, one line on stderr, no panic.
fn refused(out: &Output, case: &str) -> String {
    let (stdout, stderr) = text(out);
    assert!(!out.status.success(), "{case}: accepted\n{stdout}\n{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{case}: not one sentence: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{case}: {stderr}");
    stderr
}

/// Every entry of a tree: path, type, mode, owner, size and contents' hash, link target.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let what = if m.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_file() {
                sha(&std::fs::read(&p).unwrap())
            } else {
                String::new()
            };
            out.push(format!("{rel} {:o} {}:{} {what}", m.mode(), m.uid(), m.gid()));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn an_image_made_by_buildah_and_pushed_by_skopeo_is_pulled_unpacked_and_run() {
    let Some(t) = root_test("an_image_made_by_buildah_and_pushed_by_skopeo_is_pulled_unpacked_and_run") else { return };
    let had_cache = Path::new("/var/lib/containers").exists();
    let store = Store::new();
    let registry = Registry::start();
    let tools = Tools::new();
    let layout = tools.dir.path().join("layout");
    tools.buildah_layout(&store.rootfs(), &layout, r#"["/bin/echo","made-by-buildah"]"#);
    let dest = format!("docker://{}/demo:1", registry.address);
    tools.run("skopeo", &["copy", "--dest-tls-verify=false", &format!("oci:{}:demo", layout.display()), &dest]);

    let reference = format!("{}/demo:1", registry.address);
    let pulled = store.ok(&["image", "pull", &reference]);
    assert!(pulled.contains("GET /v2/ → 200") && pulled.contains("/manifests/1 → 200"), "{pulled}");
    assert!(store.ok(&["image", "list"]).contains(&reference));
    let bundle = tools.dir.path().join("bundle");
    store.ok(&["image", "unpack", &reference, bundle.to_str().unwrap()]);
    assert!(bundle.join("rootfs/bin/busybox").is_file());
    let run = learnctr(&["run", "-b", bundle.to_str().unwrap(), "images-buildah"]).output().unwrap();
    assert_eq!(text(&run).0, "made-by-buildah\n", "{:?}", text(&run));
    drop((registry, tools));
    t.assert_same_host("after buildah, skopeo and learnctr");
    assert!(had_cache || !Path::new("/var/lib/containers").exists(), "a tool wrote its cache on the host");
}

#[test]
fn an_image_pushed_by_learnctr_is_pulled_and_run_by_podman() {
    let Some(_t) = root_test("an_image_pushed_by_learnctr_is_pulled_and_run_by_podman") else { return };
    let store = Store::new();
    let registry = Registry::start();
    let tools = Tools::new();
    store.ok(&["image", "build", "--tag", "localhost/built:1"]);
    let dest = format!("{}/built:1", registry.address);
    let pushed = store.ok(&["image", "push", "localhost/built:1", &dest]);
    assert!(pushed.contains("PUT /v2/built/manifests/1 → 201"), "{pushed}");
    tools.run("podman", &["pull", "--quiet", "--tls-verify=false", &dest]);
    let out = tools.run(
        "podman",
        &[
            "run",
            "--rm",
            "--network=none",
            &dest,
            "/bin/sh",
            "-c",
            "cat /etc/learnctr-image; ls /srv/www; cat /srv/www/index.html",
        ],
    );
    // (podman bind-mounts an /etc/hostname of its own, so the whiteout is seen in srv/www.)
    assert_eq!(String::from_utf8_lossy(&out.stdout), "built by hand in lesson 9\nindex.html\n<h1>version 2</h1>\n");
    tools.run("podman", &["rmi", "--all", "--force"]);
}

#[test]
fn learnctr_and_umoci_unpack_the_same_tree() {
    let Some(t) = root_test("learnctr_and_umoci_unpack_the_same_tree") else { return };
    let store = Store::new();
    // Layer 1 with an owner, a setuid file, a hard link and a symlink of its own.
    let r = store.rootfs();
    std::fs::create_dir_all(r.join("data")).unwrap();
    std::fs::write(r.join("data/owned"), b"1000").unwrap();
    std::os::unix::fs::chown(r.join("data/owned"), Some(1000), Some(1000)).unwrap();
    std::fs::write(r.join("data/suid"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(r.join("data/suid"), std::os::unix::fs::PermissionsExt::from_mode(0o4750)).unwrap();
    std::fs::hard_link(r.join("data/owned"), r.join("data/link")).unwrap();
    std::os::unix::fs::symlink("../bin/busybox", r.join("data/sym")).unwrap();
    store.ok(&["image", "build", "--tag", "localhost/same:1"]);
    let layout = t.path().join("layout");
    store.ok(&["image", "export", "localhost/same:1", layout.to_str().unwrap()]);
    let ours = t.path().join("ours");
    store.ok(&["image", "unpack", "localhost/same:1", ours.to_str().unwrap()]);
    let theirs = t.path().join("theirs");
    let out = std::process::Command::new("umoci")
        .args(["unpack", "--image", &format!("{}:1", layout.display()), theirs.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "umoci: {}", String::from_utf8_lossy(&out.stderr));
    let (a, b) = (tree(&ours.join("rootfs")), tree(&theirs.join("rootfs")));
    let only_ours: Vec<&String> = a.iter().filter(|l| !b.contains(l)).take(5).collect();
    let only_theirs: Vec<&String> = b.iter().filter(|l| !a.contains(l)).take(5).collect();
    assert!(only_ours.is_empty() && only_theirs.is_empty(), "learnctr: {only_ours:?}\numoci: {only_theirs:?}");
    assert!(a.iter().any(|l| l.starts_with("data/suid 104750 0:0")), "{a:?}");
    assert!(!ours.join("rootfs/etc/hostname").exists() && !ours.join("rootfs/srv/www/old-photos.bin").exists());
}

#[test]
fn hostile_images_are_refused_and_write_nothing_outside() {
    let Some(_t) = root_test("hostile_images_are_refused_and_write_nothing_outside") else { return };
    use tar::EntryType::{Link, Regular, Symlink};
    let store = Store::new();
    let canary = tempfile::tempdir().unwrap();
    std::fs::write(canary.path().join("keep"), b"still here").unwrap();
    let canary_path = canary.path().display().to_string();
    let base: E = ("etc/passwd", Regular, None, b"root:x:0:0\n");
    let good = tar_of(&[base]);
    // Refused when imported: the layer alone says it is hostile, or the image is broken.
    type Spoil<'a> = Box<dyn Fn(&mut Layout) + 'a>;
    let at_import: Vec<(&str, Spoil<'_>)> = vec![
        (
            "a whiteout that climbs",
            Box::new(|l| *l = Layout::new(&l.dir, &[tar_of(&[("etc/.wh..", Regular, None, b"")])])),
        ),
        (
            "a whiteout name that climbs",
            Box::new(|l| *l = Layout::new(&l.dir, &[tar_of(&[(".wh.../x", Regular, None, b"")])])),
        ),
        ("a path that climbs", Box::new(|l| *l = Layout::new(&l.dir, &[tar_of(&[("../.wh.x", Regular, None, b"")])]))),
        (
            "an absolute path that climbs",
            Box::new(|l| *l = Layout::new(&l.dir, &[tar_of(&[("/../.wh.x", Regular, None, b"")])])),
        ),
        (
            "a hard link out",
            Box::new(|l| *l = Layout::new(&l.dir, &[tar_of(&[("x", Link, Some("../../etc/passwd"), b"")])])),
        ),
        (
            "a hard link to the host's shadow",
            Box::new(|l| *l = Layout::new(&l.dir, &[tar_of(&[("x", Link, Some("/etc/shadow"), b"")])])),
        ),
        (
            "a hard link to another layer",
            Box::new(|l| *l = Layout::new(&l.dir, &[tar_of(&[base]), tar_of(&[("x", Link, Some("etc/passwd"), b"")])])),
        ),
        ("a blob that is not its digest", Box::new(|l| l.wrong_bytes = true)),
        ("a manifest naming a missing blob", Box::new(|l| l.missing_layer = true)),
        (
            "a truncated layer",
            Box::new(|l| {
                let cut = l.layers[0].len() - 12;
                l.layers[0].truncate(cut);
            }),
        ),
        ("a diff_id that is not the layer's", Box::new(|l| l.diff_ids[0] = sha(b"other"))),
        ("an unknown manifest type", Box::new(|l| l.manifest_type = "application/vnd.example.thing+json".into())),
    ];
    for (case, spoil) in &at_import {
        let dir = tempfile::tempdir().unwrap();
        let mut layout = Layout::new(dir.path(), std::slice::from_ref(&good));
        spoil(&mut layout);
        layout.write();
        let before = store.contents();
        refused(&store.run(&["image", "import", dir.path().to_str().unwrap(), "--tag", "localhost/hostile:1"]), case);
        assert_eq!(store.contents(), before, "{case}: the store changed");
    }
    // A tarball of a layout whose blob is a symlink to a host file.
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(&dir.path().join("l"), std::slice::from_ref(&good));
    layout.write();
    let blob = std::fs::read_dir(dir.path().join("l/blobs/sha256"))
        .unwrap()
        .flatten()
        .find(|e| std::fs::read(e.path()).unwrap() == layout.layers[0])
        .unwrap()
        .path();
    std::fs::remove_file(&blob).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &blob).unwrap();
    let tarball = dir.path().join("layout.tar");
    assert!(std::process::Command::new("tar")
        .args(["-cf", tarball.to_str().unwrap(), "-C", dir.path().join("l").to_str().unwrap(), "."])
        .status()
        .unwrap()
        .success());
    let before = store.contents();
    refused(
        &store.run(&["image", "import", tarball.to_str().unwrap(), "--tag", "localhost/hostile:1"]),
        "a symlinked blob",
    );
    assert_eq!(store.contents(), before);

    // Each layer is harmless alone; together they write or delete through a symlink a
    // lower layer planted, or under a lower file: refused at import, before a name
    // (apply_layer would refuse them too: rootfs-fetch's tests/hostile_layers.rs).
    let evil = canary_path.clone();
    let across: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "a write through a lower symlink",
            vec![tar_of(&[("evil", Symlink, Some(&evil), b"")]), tar_of(&[("evil/pwned", Regular, None, b"x")])],
        ),
        (
            "a whiteout through a lower symlink",
            vec![tar_of(&[("lnk", Symlink, Some(&evil), b"")]), tar_of(&[("lnk/.wh.keep", Regular, None, b"")])],
        ),
        (
            "an opaque marker on a lower file",
            vec![tar_of(&[base]), tar_of(&[("etc/passwd/.wh..wh..opq", Regular, None, b"")])],
        ),
    ];
    for (case, tars) in across {
        let dir = tempfile::tempdir().unwrap();
        Layout::new(dir.path(), &tars).write();
        let before = store.contents();
        let said = refused(
            &store.run(&["image", "import", dir.path().to_str().unwrap(), "--tag", "localhost/across:1"]),
            case,
        );
        assert!(said.contains("lies under"), "{case}: {said}");
        assert_eq!(store.contents(), before, "{case}: the store changed");
    }
    // A symlink replaced by a directory in a later layer is fine (no write goes through it).
    let dir = tempfile::tempdir().unwrap();
    let replaced = [
        tar_of(&[("d", Symlink, Some(&evil), b"")]),
        tar_of(&[
            (".wh.d", Regular, None, b""),
            ("d/", tar::EntryType::Directory, None, b""),
            ("d/x", Regular, None, b"x"),
        ]),
    ];
    Layout::new(dir.path(), &replaced).write();
    store.ok(&["image", "import", dir.path().to_str().unwrap(), "--tag", "localhost/replaced:1"]);
    let bundle = dir.path().join("bundle");
    store.ok(&["image", "unpack", "localhost/replaced:1", bundle.to_str().unwrap()]);
    assert!(bundle.join("rootfs/d/x").is_file() && !bundle.join("rootfs/d").is_symlink());
    assert_eq!(std::fs::read(canary.path().join("keep")).unwrap(), b"still here");
    assert_eq!(std::fs::read_dir(canary.path()).unwrap().count(), 1, "something was written outside");
    let leftovers: Vec<String> = std::fs::read_dir(store.images())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporaries left in the store: {leftovers:?}");
}

#[test]
fn a_tampered_or_missing_pull_is_refused_and_leaves_nothing() {
    let Some(_t) = root_test("a_tampered_or_missing_pull_is_refused_and_leaves_nothing") else { return };
    let store = Store::new();
    let registry = Registry::start();
    store.ok(&["image", "build", "--tag", "localhost/t:1"]);
    let dest = format!("{}/t:1", registry.address);
    store.ok(&["image", "push", "localhost/t:1", &dest]);
    let other = Store::new();
    refused(&other.run(&["image", "pull", &format!("{}/nothere:1", registry.address)]), "a name the registry lacks");
    refused(&other.run(&["image", "pull", "example.invalid/x:1"]), "a registry that does not resolve");
    // The registry's copy of a layer is changed on its disk.
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.images().join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(store.images().join("blobs/sha256").join(manifest_digest.trim_start_matches("sha256:")))
            .unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][2]["digest"].as_str().unwrap();
    let data = registry.blob_data(layer);
    let mut bytes = std::fs::read(&data).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();
    let said = refused(&other.run(&["image", "pull", &dest]), "a tampered layer");
    assert!(said.contains("digest"), "{said}");
    assert_eq!(other.contents(), (Vec::new(), other.contents().1.clone()), "blobs of a failed pull were kept");
    assert!(!other.contents().1.contains("t:1"), "the failed image got a name");
}

#[test]
fn export_and_import_round_trip_as_oci_layout_and_docker_save() {
    let Some(t) = root_test("export_and_import_round_trip_as_oci_layout_and_docker_save") else { return };
    let store = Store::new();
    store.ok(&["image", "build", "--tag", "localhost/rt:1"]);
    let digest = |s: &Store| {
        let v: serde_json::Value =
            serde_json::from_str(&s.ok(&["image", "inspect", "localhost/rt:1", "--json"])).unwrap();
        (v["manifest_digest"].as_str().unwrap().to_string(), v["wasted_bytes"].as_u64().unwrap())
    };
    let (built, wasted) = digest(&store);
    assert!(wasted >= 64 * 1024);
    let layout = t.path().join("layout");
    store.ok(&["image", "export", "localhost/rt:1", layout.to_str().unwrap()]);
    store.ok(&["image", "remove", "localhost/rt:1"]);
    assert_eq!(store.contents().0, Vec::<String>::new(), "remove left blobs");
    store.ok(&["image", "import", layout.to_str().unwrap(), "--tag", "localhost/rt:1"]);
    assert_eq!(digest(&store).0, built, "the OCI layout round trip changed the manifest");
    // docker save: layers become plain tars, so the manifest is a new one; the tree is the same.
    let saved = t.path().join("saved.tar");
    store.ok(&["image", "export", "localhost/rt:1", saved.to_str().unwrap(), "--format", "docker"]);
    let other = Store::new();
    store.ok(&["image", "remove", "localhost/rt:1"]);
    let said = other.ok(&["image", "import", saved.to_str().unwrap()]);
    assert!(said.contains("localhost/rt:1"), "{said}");
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    other.ok(&["image", "unpack", "localhost/rt:1", a.to_str().unwrap()]);
    store.ok(&["image", "import", layout.to_str().unwrap(), "--tag", "localhost/rt:1"]);
    store.ok(&["image", "unpack", "localhost/rt:1", b.to_str().unwrap()]);
    assert_eq!(tree(&a.join("rootfs")), tree(&b.join("rootfs")));
    // docker load reads what learnctr saves.
    refused(
        &store.run(&["image", "export", "localhost/rt:1", saved.to_str().unwrap(), "--format", "docker"]),
        "an export over a file",
    );
}
