//! Lesson 9: images and layers.
//!
//! First overlayfs by hand, the file system every engine shows an image through: two
//! lower directories, an upper one, copy-up, whiteouts, opaque directories, each read on
//! the kernel's side (mountinfo, the upper directory's inodes, device numbers and xattrs).
//! Then an OCI image made from the course's root filesystem (`image/build.rs`), turned into a
//! bundle two ways (layers applied, or stacked as overlay lower directories), a container's
//! upper directory committed as a new layer, a pull over the distribution API, and the image
//! looked at like `dive`. Every step works in a scratch directory under /run/learnctr.

use std::path::{Path, PathBuf};

use super::common::*;
use super::image_steps::{bundle, commit, dive, image_by_hand, pull};
use crate::course::{Ctx, Failure, Lesson, Step};
use crate::host::journal::Object;
use crate::instruments::probe::Probe;
use crate::primitives::isolate::Plan;
use crate::primitives::mountinfo;
use crate::primitives::mounts;
use crate::primitives::namespaces::Namespace;

pub fn lesson() -> Lesson {
    Lesson {
        number: 9,
        name: "images",
        needs_rootfs: true,
        steps: vec![
            Step {
                id: "overlay",
                shell: &[
                    "mkdir -p lower1/etc lower1/data lower2/etc upper work merged",
                    "echo bottom > lower1/etc/motd; echo a > lower1/data/a; echo b > lower1/data/b",
                    "echo top > lower2/etc/motd; echo Welcome > lower2/etc/issue",
                    "unshare --mount sh",
                    "mount --make-rprivate /",
                    "mount -t overlay overlay -o lowerdir=lower2:lower1,upperdir=upper,workdir=work merged",
                    "ls merged/etc; cat merged/etc/motd",
                ],
                key: &["\"overlay\""],
                run: overlay,
            },
            Step {
                id: "copy_up",
                shell: &[
                    "echo changed >> merged/etc/issue    # {{shell.copy_up}}",
                    "rm merged/etc/motd                  # {{shell.whiteout}}",
                    "rm -r merged/data; mkdir merged/data; echo new > merged/data/new",
                    "ls -l upper/etc",
                    "getfattr -d -m trusted upper/data     # {{shell.attr}}",
                ],
                key: &["\"overlay\""],
                run: copy_up,
            },
            Step {
                id: "image",
                shell: &[
                    "tar -czf layer1.tar.gz -C ROOTFS . && sha256sum layer1.tar.gz   # {{shell.digest}}",
                    "zcat layer1.tar.gz | sha256sum                                  # {{shell.diff_id}}",
                    "sudo learnctr image build && sudo learnctr image inspect localhost/learnctr-lesson9",
                ],
                key: &[],
                run: image_by_hand,
            },
            Step {
                id: "bundle",
                shell: &[
                    "sudo learnctr image unpack localhost/learnctr-lesson9 bundle",
                    "umoci unpack --image layout:latest bundle    # {{shell.umoci}}",
                ],
                key: &["\"overlay\""],
                run: bundle,
            },
            Step {
                id: "commit",
                shell: &["sudo learnctr image commit UPPER --from localhost/learnctr-lesson9 --tag localhost/mine:1"],
                key: &["\"overlay\""],
                run: commit,
            },
            Step {
                id: "pull",
                shell: &[
                    "({{shell.with_registry}})",
                    "curl -si http://127.0.0.1:5000/v2/",
                    "curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://127.0.0.1:5000/v2/NAME/manifests/TAG",
                    "sudo learnctr image pull 127.0.0.1:5000/NAME:TAG",
                ],
                key: &[],
                run: pull,
            },
            Step { id: "dive", shell: &["sudo learnctr image inspect localhost/learnctr-lesson9"], key: &[], run: dive },
        ],
    }
}

/// A directory of this step under /run/learnctr, journaled; removed when the step ends.
pub struct Scratch {
    pub dir: PathBuf,
    _entry: crate::host::journal::Entry,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Scratch {
    pub fn new(ctx: &Ctx) -> Result<Scratch, Failure> {
        let dir =
            PathBuf::from(format!("{}/lesson9-{}-{}", crate::host::journal::RUN_DIR, ctx.step, std::process::id()));
        let entry = ctx.journal().record(Object::Dir { path: dir.clone() })?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch { dir, _entry: entry })
    }

    pub fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }

    /// `text` with this directory's path written `./`, so that a line fits.
    pub fn relative(&self, text: &str) -> String {
        text.replace(&format!("{}/", self.dir.display()), "./")
    }
}

/// The two lower directories of the overlay steps, written by learnctr on the host.
fn layers(s: &Scratch) -> Result<(), Failure> {
    let files = [
        ("lower1/etc/motd", "bottom\n"),
        ("lower1/data/a", "a\n"),
        ("lower1/data/b", "b\n"),
        ("lower2/etc/motd", "top\n"),
        ("lower2/etc/issue", "Welcome\n"),
    ];
    for (rel, text) in files {
        let path = s.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/")))?;
        std::fs::write(&path, text)?;
    }
    for d in ["upper", "work", "merged"] {
        std::fs::create_dir_all(s.dir.join(d))?;
    }
    Ok(())
}

/// A child in a mount namespace of its own with the overlay mounted at `merged`.
fn mounted(ctx: &Ctx, s: &Scratch) -> Result<crate::course::step::Contained, Failure> {
    let (l1, l2, upper, work, merged) =
        (s.path("lower1"), s.path("lower2"), s.path("upper"), s.path("work"), s.path("merged"));
    ctx.start(Plan::new(&[Namespace::Mount]).with_setup(move |k| {
        mounts::make_private(k)?;
        mounts::mount_overlay(k, &[&l2, &l1], &upper, &work, &merged)
    }))
}

fn overlay(ctx: &mut Ctx) -> Result<(), Failure> {
    let s = Scratch::new(ctx)?;
    layers(&s)?;
    let inside = mounted(ctx, &s)?;
    let merged = s.path("merged");
    let theirs = mountinfo::parse(&std::fs::read_to_string(format!("/proc/{}/mountinfo", inside.pid()))?);
    let ours = mountinfo::parse(&std::fs::read_to_string("/proc/self/mountinfo")?);
    let found = mountinfo::at(&theirs, &merged);
    let options = found.map(|m| m.super_options.join(",")).unwrap_or_default();
    ctx.observe(
        "label.overlay_mount",
        "—",
        found.map(|m| format!("{} {}", m.fstype, s.relative(&options))).unwrap_or_default(),
    );
    let lowers = format!("lowerdir={}:{}", s.path("lower2"), s.path("lower1"));
    ctx.check(
        "check.overlay.mounted",
        found.is_some_and(|m| m.fstype == "overlay" && options.contains(&lowers)),
        &options,
    );
    ctx.check("check.overlay.not_on_host", mountinfo::at(&ours, &merged).is_none(), &merged);
    let etc = text(inside.ask(Probe::ListDir(format!("{merged}/etc")))?);
    let host_etc = format!(
        "lower1: {} · lower2: {}",
        listing_on_host(&s.path("lower1/etc"))?,
        listing_on_host(&s.path("lower2/etc"))?
    );
    ctx.observe("label.merged_etc", &host_etc, &etc);
    ctx.check("check.overlay.union", etc == "issue motd", &etc);
    let motd = text(inside.ask(Probe::ReadFile(format!("{merged}/etc/motd")))?);
    ctx.observe("label.merged_motd", "lower1: bottom · lower2: top", &motd);
    ctx.check("check.overlay.top_wins", motd == "top", &motd);
    let upper = listing_on_host(&s.path("upper"))?;
    ctx.check("check.overlay.upper_empty", upper.is_empty(), &upper);
    let pid = inside.pid();
    let look = [format!("ls {merged}/etc"), "grep overlay /proc/self/mountinfo".to_string()];
    ctx.inspect(inside, &look.iter().map(String::as_str).collect::<Vec<_>>(), outside_commands(pid, "--mount"));
    ctx.hold(Box::new(s));
    Ok(())
}

fn copy_up(ctx: &mut Ctx) -> Result<(), Failure> {
    let s = Scratch::new(ctx)?;
    layers(&s)?;
    let inside = mounted(ctx, &s)?;
    let m = s.path("merged");
    let before = stat_inside(&inside, &format!("{m}/etc/issue"))?;
    let script = format!("echo changed >> {m}/etc/issue && rm {m}/etc/motd && rm -r {m}/data && mkdir {m}/data && echo new > {m}/data/new");
    ctx.fact("label.ran", s.relative(&script));
    let ran = inside.ask(Probe::Run(vec!["/bin/sh".into(), "-c".into(), script]))?;
    if !ran.text().is_empty() {
        ctx.fact("label.said", ran.text());
    }
    let after = stat_inside(&inside, &format!("{m}/etc/issue"))?;

    // Copy-up: the whole file was copied to upper before the write; the lower one is intact.
    let upper_issue = std::fs::read_to_string(s.dir.join("upper/etc/issue")).unwrap_or_default();
    let lower_issue = std::fs::read_to_string(s.dir.join("lower2/etc/issue")).unwrap_or_default();
    ctx.observe(
        "label.issue",
        format!("lower2: {}", lower_issue.trim()),
        format!("upper: {}", upper_issue.trim().replace('\n', " / ")),
    );
    ctx.check("check.copy_up.in_upper", upper_issue == "Welcome\nchanged\n", upper_issue.trim());
    ctx.check("check.copy_up.lower_intact", lower_issue == "Welcome\n", lower_issue.trim());
    let up = stat_on_host(&s.path("upper/etc/issue"))?;
    let low = stat_on_host(&s.path("lower2/etc/issue"))?;
    ctx.observe(
        "label.issue_inodes",
        format!("lower2 {} · upper {}", identity(&low), identity(&up)),
        format!("{} → {}", before.ino, after.ino),
    );
    ctx.check("check.copy_up.new_inode", !same_file(&up, &low), format!("{} / {}", identity(&low), identity(&up)));

    // A deletion in a lower layer cannot delete: upper gets a whiteout, a 0/0 character device.
    let wh = stat_on_host(&s.path("upper/etc/motd"))?;
    ctx.observe(
        "label.whiteout",
        format!("upper/etc/motd: {} {}:{}", wh.kind, wh.rdev.0, wh.rdev.1),
        text(inside.ask(Probe::ListDir(format!("{m}/etc")))?),
    );
    ctx.check(
        "check.copy_up.whiteout",
        wh.kind == "char" && wh.rdev == (0, 0),
        format!("{} {}:{}", wh.kind, wh.rdev.0, wh.rdev.1),
    );
    ctx.check(
        "check.copy_up.lowers_keep_motd",
        s.dir.join("lower1/etc/motd").exists() && s.dir.join("lower2/etc/motd").exists(),
        "lower1, lower2",
    );

    // A directory deleted and made again is opaque: lower layers' entries stay hidden.
    let opaque = crate::image::build::xattr(&s.dir.join("upper/data"), "trusted.overlay.opaque");
    let opaque_shown = opaque.as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
    let data = text(inside.ask(Probe::ListDir(format!("{m}/data")))?);
    ctx.observe(
        "label.opaque",
        format!("trusted.overlay.opaque={opaque_shown} · lower1/data: {}", listing_on_host(&s.path("lower1/data"))?),
        &data,
    );
    ctx.check("check.copy_up.opaque", opaque_shown == "y" && data == "new", format!("{opaque_shown}; {data}"));
    let look = [format!("ls -la {m}/etc {m}/data")];
    let outside = vec![
        format!("sudo ls -l {}", s.path("upper/etc")),
        format!("sudo getfattr -d -m trusted {}", s.path("upper/data")),
    ];
    ctx.inspect(inside, &look.iter().map(String::as_str).collect::<Vec<_>>(), outside);
    ctx.hold(Box::new(s));
    Ok(())
}
