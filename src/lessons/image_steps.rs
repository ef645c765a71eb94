//! Lesson 9's image steps: an image built by hand, turned into a bundle, committed, pulled
//! and looked at. Each works on its own scratch copy of learnctr's image store (an OCI
//! layout under /run/learnctr), so the learner's own store is never touched; the commands
//! that do the same on it are printed beside each step.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::common::*;
use super::l09_images::Scratch;
use super::local_registry::LocalRegistry;
use crate::course::{Ctx, Failure};
use crate::image::store::{Image, Store};
use crate::image::{build, bundle as to_bundle, check::short, inspect, layers, registry, Reference};
use crate::instruments::probe::Probe;
use crate::primitives::isolate::Plan;
use crate::primitives::mounts;
use crate::primitives::namespaces::Namespace;
use rootfs_fetch::EntryKind;

const NAME: &str = "localhost/learnctr-lesson9:latest";

/// The lesson's image in a scratch store: `(store, image)`.
fn built(ctx: &Ctx, s: &Scratch) -> Result<(Store, Image), Failure> {
    let store = Store::at(&s.dir.join("images"))?;
    build::recipe(&store, Path::new(&ctx.rootfs()?), NAME)?;
    let image = store.image(&Reference::parse(NAME).map_err(Failure::new)?)?;
    Ok((store, image))
}

fn sha256_of(r: impl Read) -> Result<String, Failure> {
    let mut hashing = rootfs_fetch::Hashing::new(r);
    std::io::copy(&mut hashing, &mut std::io::sink())?;
    Ok(format!("sha256:{}", rootfs_fetch::hex(&hashing.hash.finalize())))
}

/// A layer's entry as the tar names it: deletions are `.wh.` names, not kinds.
fn as_in_tar(e: &rootfs_fetch::LayerEntry) -> String {
    match e.kind {
        EntryKind::Whiteout => match e.path.rsplit_once('/') {
            Some((dir, name)) => format!("{dir}/.wh.{name}"),
            None => format!(".wh.{}", e.path),
        },
        EntryKind::Opaque => format!("{}/.wh..wh..opq", e.path),
        _ => e.path.clone(),
    }
}

/// Every blob of a store, its name against the SHA-256 of its bytes, recomputed here.
fn blobs_match_names(store: &Store) -> Result<(usize, Vec<String>), Failure> {
    let dir = store.root().join("blobs/sha256");
    let mut bad = Vec::new();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let name = format!("sha256:{}", entry.file_name().to_string_lossy());
        n += 1;
        if sha256_of(std::fs::File::open(entry.path())?)? != name {
            bad.push(short(&name));
        }
    }
    Ok((n, bad))
}

pub fn image_by_hand(ctx: &mut Ctx) -> Result<(), Failure> {
    let s = Scratch::new(ctx)?;
    let (store, image) = built(ctx, &s)?;
    let diff_ids = image.config.rootfs().diff_ids().clone();
    let history = image.config.history().clone().unwrap_or_default();
    for (i, (layer, diff_id)) in image.manifest.layers().iter().zip(&diff_ids).enumerate() {
        let made_by = history.get(i).and_then(|h| h.created_by().clone()).unwrap_or_default();
        ctx.fact_raw(
            &format!("{} {}", ctx.s("label.layer"), i + 1),
            format!("{} ({} B) · diff_id {} · {made_by}", short(layer.digest().as_ref()), layer.size(), short(diff_id)),
        );
    }
    ctx.fact(
        "label.config",
        format!(
            "{} · Cmd {:?} · WorkingDir {}",
            short(image.manifest.config().digest().as_ref()),
            image.config.config().as_ref().and_then(|c| c.cmd().clone()).unwrap_or_default(),
            image.config.config().as_ref().and_then(|c| c.working_dir().clone()).unwrap_or_default()
        ),
    );
    ctx.fact("label.manifest", short(&image.manifest_digest));
    ctx.fact("label.layout", store.root().display());

    let (n, bad) = blobs_match_names(&store)?;
    ctx.check("check.image.blob_names", n == 5 && bad.is_empty(), format!("{n} blob · {}", bad.join(" ")));
    // diff_id: the SHA-256 of each layer's tar once gunzipped, recomputed from the blob.
    let mut recomputed = Vec::new();
    for layer in image.manifest.layers() {
        let mut tar = Vec::new();
        rootfs_fetch::decompress_to(store.open_blob(layer.digest().as_ref())?, &mut tar)
            .map_err(crate::course_rootfs::failure)?;
        recomputed.push(format!("sha256:{}", rootfs_fetch::hex(&Sha256::digest(&tar))));
    }
    ctx.check(
        "check.image.diff_ids",
        recomputed == diff_ids,
        recomputed.iter().map(|d| short(d)).collect::<Vec<_>>().join(" "),
    );
    let index = std::fs::read_to_string(store.root().join("index.json"))?;
    ctx.check("check.image.index_names_it", index.contains(&image.manifest_digest) && index.contains(NAME), NAME);
    // The third layer says its deletions as entries: `.wh.hostname` and `.wh..wh..opq`.
    let top = image.manifest.layers().last().map(|l| l.digest().to_string()).unwrap_or_default();
    let scan = rootfs_fetch::scan_layer(store.open_blob(&top)?, "layer 3").map_err(crate::course_rootfs::failure)?;
    let marks: Vec<String> = scan
        .entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Whiteout | EntryKind::Opaque))
        .map(as_in_tar)
        .collect();
    ctx.fact("label.layer3_marks", marks.join(", "));
    ctx.check("check.image.markers", marks == ["etc/.wh.hostname", "srv/www/.wh..wh..opq"], marks.join(", "));
    ctx.hold(Box::new(s));
    Ok(())
}

/// `find .` of a tree, one line per entry with its type, sorted: how two trees are compared.
fn tree_listing(inside: Option<&crate::course::step::Contained>, dir: &str) -> Result<String, Failure> {
    let q = Probe::Run(vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("cd {dir} && find . -exec stat -c '%n %F %s' {{}} + | sort"),
    ]);
    match inside {
        Some(c) => Ok(text(c.ask(q)?)),
        None => on_host(&q),
    }
}

/// The image's layers stacked as overlay lower directories in a child's own mount namespace.
fn stacked(
    ctx: &Ctx,
    s: &Scratch,
    store: &Store,
    image: &Image,
    upper: Option<&str>,
) -> Result<crate::course::step::Contained, Failure> {
    let lowers: Vec<String> = layers::lower_dirs(store, image)?.iter().map(|p| p.display().to_string()).collect();
    let merged = s.path("merged");
    std::fs::create_dir_all(&merged)?;
    let (up, work) = match upper {
        Some(u) => (u.to_string(), s.path("work")),
        None => (String::new(), String::new()),
    };
    if upper.is_some() {
        std::fs::create_dir_all(&up)?;
        std::fs::create_dir_all(&work)?;
    }
    ctx.start(Plan::new(&[Namespace::Mount]).with_setup(move |k| {
        mounts::make_private(k)?;
        let refs: Vec<&str> = lowers.iter().map(String::as_str).collect();
        if up.is_empty() {
            // Read-only: lower directories alone (`lowerdir=A:B`, no upper).
            k.mount(
                Some("overlay"),
                &merged,
                Some("overlay"),
                nix::mount::MsFlags::empty(),
                Some(&format!("lowerdir={}", refs.join(":"))),
            )
        } else {
            mounts::mount_overlay(k, &refs, &up, &work, &merged)
        }
    }))
}

pub fn bundle(ctx: &mut Ctx) -> Result<(), Failure> {
    let s = Scratch::new(ctx)?;
    let (store, image) = built(ctx, &s)?;
    let dir = s.dir.join("bundle");
    let done = to_bundle::unpack(&store, &image, &dir, &[])?;
    for o in &done.origins {
        let cell = |v: &str| if v.is_empty() { "·".to_string() } else { v.to_string() };
        ctx.fact_raw(o.field, format!("{} | {} | {}", cell(&o.engine), cell(&o.image), cell(&o.user)));
    }
    let rootfs = dir.join("rootfs");
    // Layer 1 holds etc/hostname (the course's root filesystem has one); layer 3 deletes it.
    let first = image.manifest.layers().first().map(|l| l.digest().to_string()).unwrap_or_default();
    let scan = rootfs_fetch::scan_layer(store.open_blob(&first)?, "layer 1").map_err(crate::course_rootfs::failure)?;
    let in_layer1 = scan.entries.iter().any(|e| e.path == "etc/hostname");
    let gone = !rootfs.join("etc/hostname").exists();
    let added = rootfs.join("etc/learnctr-image").is_file();
    ctx.check(
        "check.bundle.whiteout_applied",
        in_layer1 && gone && added,
        format!("layer 1: {in_layer1}, gone: {gone}, added: {added}"),
    );
    let www = listing_on_host(&rootfs.join("srv/www").display().to_string())?;
    let index = std::fs::read_to_string(rootfs.join("srv/www/index.html")).unwrap_or_default();
    ctx.observe(
        "label.www",
        format!("{} 2: index.html old-photos.bin", ctx.s("label.layer")),
        format!("{www}: {}", index.trim()),
    );
    ctx.check("check.bundle.opaque_applied", www == "index.html" && index.contains("version 2"), &www);
    let (spec, _) = crate::runtime::spec::load(&dir).map_err(|e| Failure::new(e.to_string()))?;
    let process = spec.process().clone().unwrap_or_default();
    let args = process.args().clone().unwrap_or_default();
    ctx.check(
        "check.bundle.config",
        args == ["/bin/sh"] && process.cwd().display().to_string() == "/srv/www",
        format!("{args:?} {}", process.cwd().display()),
    );

    // The other way, containerd's: each layer a directory, stacked by overlayfs.
    let inside = stacked(ctx, &s, &store, &image, None)?;
    let merged = tree_listing(Some(&inside), &s.path("merged"))?;
    let applied = tree_listing(None, &rootfs.display().to_string())?;
    let lines = |t: &str| t.lines().count();
    ctx.observe(
        "label.two_ways",
        format!("{} {}", lines(&applied), ctx.s("value.entries")),
        format!("{} {}", lines(&merged), ctx.s("value.entries")),
    );
    ctx.check("check.bundle.same_tree", !merged.is_empty() && merged == applied, first_difference(&applied, &merged));
    ctx.hold(Box::new(inside));
    ctx.hold(Box::new(s));
    Ok(())
}

/// The first line where two listings differ, for a failed check.
fn first_difference(a: &str, b: &str) -> String {
    let (mut x, mut y) = (a.lines(), b.lines());
    loop {
        match (x.next(), y.next()) {
            (None, None) => return String::new(),
            (l, r) if l != r => return format!("{} ≠ {}", l.unwrap_or("—"), r.unwrap_or("—")),
            _ => {}
        }
    }
}

pub fn commit(ctx: &mut Ctx) -> Result<(), Failure> {
    let s = Scratch::new(ctx)?;
    let (store, image) = built(ctx, &s)?;
    let upper = s.path("upper");
    let inside = stacked(ctx, &s, &store, &image, Some(&upper))?;
    let m = s.path("merged");
    let script = format!(
        "echo hello > {m}/hello.txt && rm {m}/etc/learnctr-image && rm -r {m}/srv/www && mkdir {m}/srv/www && echo '<h1>version 3</h1>' > {m}/srv/www/index.html"
    );
    ctx.fact("label.ran", s.relative(&script));
    let said = text(inside.ask(Probe::Run(vec!["/bin/sh".into(), "-c".into(), script]))?);
    if !said.is_empty() {
        ctx.fact("label.said", said);
    }
    let merged = tree_listing(Some(&inside), &m)?;
    let wh = stat_on_host(&s.path("upper/etc/learnctr-image"))?;
    ctx.check(
        "check.commit.upper_whiteout",
        wh.kind == "char" && wh.rdev == (0, 0),
        format!("{} {}:{}", wh.kind, wh.rdev.0, wh.rdev.1),
    );

    let name = "localhost/learnctr-lesson9-committed:latest";
    build::commit(&store, &image, Path::new(&upper), name, "learnctr lesson 9: commit of the upper directory")?;
    let committed = store.image(&Reference::parse(name).map_err(Failure::new)?)?;
    let top = committed.manifest.layers().last().map(|l| l.digest().to_string()).unwrap_or_default();
    let scan = rootfs_fetch::scan_layer(store.open_blob(&top)?, "layer 4").map_err(crate::course_rootfs::failure)?;
    let entries: Vec<String> = scan.entries.iter().filter(|e| e.kind != EntryKind::Dir).map(as_in_tar).collect();
    ctx.fact("label.new_layer", format!("{} · {}", short(&top), entries.join(", ")));
    let has = |what: &str| entries.iter().any(|e| e == what);
    ctx.check(
        "check.commit.whiteout_entry",
        has("etc/.wh.learnctr-image") && !scan.entries.iter().any(|e| e.kind == EntryKind::Other),
        entries.join(", "),
    );
    ctx.check("check.commit.opaque_entry", has("srv/www/.wh..wh..opq") && has("hello.txt"), entries.join(", "));
    // Applying the four layers gives what the container saw.
    let dir = s.dir.join("bundle");
    to_bundle::unpack(&store, &committed, &dir, &[])?;
    let applied = tree_listing(None, &dir.join("rootfs").display().to_string())?;
    ctx.check("check.commit.round_trip", merged == applied, first_difference(&merged, &applied));
    ctx.hold(Box::new(inside));
    ctx.hold(Box::new(s));
    Ok(())
}

pub fn pull(ctx: &mut Ctx) -> Result<(), Failure> {
    let s = Scratch::new(ctx)?;
    // `--registry HOST:PORT`: the learner's own; else one of the lesson's, if installed.
    let (address, own) = match ctx.registry {
        Some(address) => (address.to_string(), None),
        None => match LocalRegistry::start(ctx, &s.dir.join("registry"))? {
            Some(r) => (r.address.clone(), Some(r)),
            None => {
                ctx.fact("label.no_registry", ctx.s("value.no_registry"));
                ctx.hold(Box::new(s));
                return Ok(());
            }
        },
    };
    let (store, image) = built(ctx, &s)?;
    let dest = Reference::parse(&format!("{address}/learnctr-lesson9:1")).map_err(Failure::new)?;
    let pushed = registry::push(&store, &image, &dest)?;
    ctx.fact("label.pushed", format!("{dest} · {} blob", pushed.uploaded));
    // A second store: the machine that pulls.
    let other = Store::at(&s.dir.join("pulled"))?;
    let pulled = registry::pull(&other, &dest)?;
    for call in &pulled.calls {
        ctx.fact_raw("HTTP", call);
    }
    ctx.check(
        "check.pull.same_digest",
        pulled.manifest_digest == image.manifest_digest,
        short(&pulled.manifest_digest),
    );
    let (n, bad) = blobs_match_names(&other)?;
    ctx.check(
        "check.pull.verified",
        n == 5 && bad.is_empty() && pulled.fetched == 4,
        format!("{n} blob · {}", pulled.fetched),
    );
    let again = registry::pull(&other, &dest)?;
    ctx.check(
        "check.pull.cached",
        again.fetched == 0 && again.cached == 4,
        format!("{} · {}", again.fetched, again.cached),
    );
    ctx.hold(Box::new(own));
    ctx.hold(Box::new(s));
    Ok(())
}

pub fn dive(ctx: &mut Ctx) -> Result<(), Failure> {
    let s = Scratch::new(ctx)?;
    let (store, image) = built(ctx, &s)?;
    let view = inspect::view(&store, &image)?;
    for (i, l) in view.layers.iter().enumerate() {
        ctx.fact_raw(
            &format!("{} {}", ctx.s("label.layer"), i + 1),
            format!(
                "+{} ~{} -{} · {} B · {}",
                l.added.len(),
                l.changed.len(),
                l.removed.len(),
                l.content_bytes,
                l.created_by.chars().take(60).collect::<String>()
            ),
        );
    }
    ctx.fact("label.wasted", format!("{} B · {:.1} %", view.wasted_bytes, view.efficiency * 100.0));
    // Recomputed from the file system: every file of a layer that the unpacked root
    // filesystem does not show (absent, or replaced by a later layer) is wasted.
    let dir = s.dir.join("bundle");
    to_bundle::unpack(&store, &image, &dir, &[])?;
    let scans = crate::image::check::image(&store, &image.manifest)?;
    let mut last_writer: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, scan) in scans.iter().enumerate() {
        for e in
            scan.entries.iter().filter(|e| matches!(e.kind, EntryKind::File | EntryKind::Hardlink | EntryKind::Symlink))
        {
            last_writer.insert(&e.path, i);
        }
    }
    let mut wasted = 0;
    for (i, scan) in scans.iter().enumerate() {
        for e in scan.entries.iter().filter(|e| e.kind == EntryKind::File) {
            let seen = dir.join("rootfs").join(&e.path).symlink_metadata().is_ok();
            if !seen || last_writer.get(e.path.as_str()) != Some(&i) {
                wasted += e.size;
            }
        }
    }
    ctx.check(
        "check.dive.wasted",
        wasted == view.wasted_bytes && wasted >= 64 * 1024,
        format!("{wasted} B / {} B", view.wasted_bytes),
    );
    ctx.hold(Box::new(s));
    Ok(())
}
