//! `learnctr image …`: the commands of lesson 9, for images of your own.

use std::path::PathBuf;

use clap::Subcommand;
use colored::Colorize;

use crate::course::Failure;
use crate::i18n::{t, tf};
use crate::image::{self, build, bundle, check::short, inspect, parse_reference, registry, store::Store};

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Pull an image from a registry (plain HTTP only to this machine: localhost, 127.0.0.1).
    Pull { reference: String },
    /// The images on this machine.
    List,
    /// Look at an image like dive: each layer's command, size and files; the wasted bytes.
    Inspect {
        reference: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a bundle: DIR/rootfs (the layers applied) and DIR/config.json.
    Unpack {
        reference: String,
        dir: PathBuf,
        /// A command instead of the image's Cmd.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Build lesson 9's image by hand: the course's root filesystem and two layers on it.
    Build {
        #[arg(long, default_value = "localhost/learnctr-lesson9:latest")]
        tag: String,
    },
    /// Turn an overlay upper directory into a new layer on an image (docker commit).
    Commit {
        upper: PathBuf,
        #[arg(long)]
        from: String,
        #[arg(long)]
        tag: String,
        /// The history line of the new layer.
        #[arg(long, default_value = "learnctr image commit")]
        message: String,
    },
    /// Push an image to a registry, under its own name or DEST.
    Push { reference: String, dest: Option<String> },
    /// Import an OCI image layout (a directory or a tar of one) or a `docker save` tarball.
    Import {
        path: PathBuf,
        #[arg(long)]
        tag: Option<String>,
    },
    /// Export an image: an OCI layout directory, or a `docker save` tarball.
    Export {
        reference: String,
        path: PathBuf,
        #[arg(long, value_enum, default_value = "oci")]
        format: Format,
    },
    /// Remove an image (and the blobs no other image uses).
    Remove { reference: String },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Oci,
    Docker,
}

pub fn run(command: ImageCommand) -> Result<(), Failure> {
    if !matches!(command, ImageCommand::List | ImageCommand::Inspect { .. }) {
        super::require_root("learnctr image")?;
    }
    let store = Store::open()?;
    match command {
        ImageCommand::Pull { reference } => {
            let r = parse_reference(&reference)?;
            let pulled = registry::pull(&store, &r)?;
            show_calls(&pulled.calls);
            println!(
                "{}",
                tf(
                    "image.cli.pulled",
                    &[
                        ("name", &pulled.name),
                        ("digest", &short(&pulled.manifest_digest)),
                        ("fetched", &pulled.fetched),
                        ("cached", &pulled.cached)
                    ]
                )
            );
            Ok(())
        }
        ImageCommand::List => {
            let images = store.images()?;
            if images.is_empty() {
                println!("{}", t("image.cli.none"));
            }
            for (name, desc) in images {
                let size: u64 = store
                    .image(&parse_reference(&name)?)
                    .map(|i| i.manifest.layers().iter().map(|l| l.size()).sum())
                    .unwrap_or(0);
                println!("{name}  {}  {}", short(desc.digest().as_ref()), human(size));
            }
            Ok(())
        }
        ImageCommand::Inspect { reference, json } => {
            let image = store.image(&parse_reference(&reference)?)?;
            let view = inspect::view(&store, &image)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view).expect("json"));
            } else {
                print_view(&view);
            }
            Ok(())
        }
        ImageCommand::Unpack { reference, dir, command } => {
            let image = store.image(&parse_reference(&reference)?)?;
            let done = bundle::unpack(&store, &image, &dir, &command)?;
            print_origins(&done.origins);
            println!(
                "{}",
                tf(
                    "image.cli.unpacked",
                    &[
                        ("dir", &dir.display()),
                        ("layers", &done.layers),
                        ("files", &done.files),
                        ("whiteouts", &done.whiteouts)
                    ]
                )
            );
            Ok(())
        }
        ImageCommand::Build { tag } => {
            let name = parse_reference(&tag)?.to_string();
            let rootfs = crate::course_rootfs::for_shell(None, false)?;
            let digest = build::recipe(&store, &rootfs, &name)?;
            println!("{}", tf("image.cli.built", &[("name", &name), ("digest", &short(&digest))]));
            Ok(())
        }
        ImageCommand::Commit { upper, from, tag, message } => {
            let base = store.image(&parse_reference(&from)?)?;
            let name = parse_reference(&tag)?.to_string();
            if !upper.is_dir() {
                return Err(Failure::usage(tf("image.err.no_such_path", &[("path", &upper.display())])));
            }
            let digest = build::commit(&store, &base, &upper, &name, &message)?;
            println!("{}", tf("image.cli.built", &[("name", &name), ("digest", &short(&digest))]));
            Ok(())
        }
        ImageCommand::Push { reference, dest } => {
            let image = store.image(&parse_reference(&reference)?)?;
            let dest = parse_reference(dest.as_deref().unwrap_or(&reference))?;
            let pushed = registry::push(&store, &image, &dest)?;
            show_calls(&pushed.calls);
            println!(
                "{}",
                tf(
                    "image.cli.pushed",
                    &[("name", &dest), ("uploaded", &pushed.uploaded), ("present", &pushed.present)]
                )
            );
            Ok(())
        }
        ImageCommand::Import { path, tag } => {
            let tag = tag.as_deref().map(parse_reference).transpose()?;
            for name in image::archive::import(&store, &path, tag.as_ref())? {
                println!("{}", tf("image.cli.imported", &[("name", &name)]));
            }
            Ok(())
        }
        ImageCommand::Export { reference, path, format } => {
            let image = store.image(&parse_reference(&reference)?)?;
            image::archive::export(&store, &image, &path, matches!(format, Format::Docker))?;
            println!("{}", tf("image.cli.exported", &[("name", &image.name), ("path", &path.display())]));
            Ok(())
        }
        ImageCommand::Remove { reference } => {
            let name = parse_reference(&reference)?.to_string();
            let _lock = store.lock()?;
            if !store.untag(&name)? {
                return Err(Failure::new(tf("image.err.not_in_store", &[("name", &name)])));
            }
            println!("{}", tf("image.cli.removed", &[("name", &name)]));
            Ok(())
        }
    }
}

/// The registry's requests, like the syscall trace of a lesson.
fn show_calls(calls: &[registry::Call]) {
    println!("{}", t("image.cli.calls").dimmed());
    for call in calls {
        println!("  {}", call.to_string().dimmed());
    }
}

pub fn print_origins(origins: &[bundle::Origin]) {
    println!("{}", t("image.cli.origins"));
    let width = origins.iter().map(|o| o.field.len()).max().unwrap_or(0);
    println!("  {:width$}  {} | {} | {}", "", t("image.col.engine"), t("image.col.image"), t("image.col.user"));
    for o in origins {
        let cell = |s: &str| if s.is_empty() { "·".to_string() } else { cut(s, 48) };
        println!("  {:width$}  {} | {} | {}", o.field, cell(&o.engine), cell(&o.image), cell(&o.user));
    }
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

pub fn print_view(v: &inspect::ImageView) {
    println!("{} {}", v.name.bold(), short(&v.manifest_digest).dimmed());
    for (i, l) in v.layers.iter().enumerate() {
        println!(
            "{}",
            tf(
                "image.dive.layer",
                &[
                    ("n", &(i + 1)),
                    ("digest", &short(&l.digest)),
                    ("size", &human(l.size)),
                    ("content", &human(l.content_bytes))
                ]
            )
        );
        println!("    {} {}", t("image.dive.command"), cut(&l.created_by, 100));
        let list = |label: &str, paths: &[String], sign: &str| {
            if !paths.is_empty() {
                let shown: Vec<&str> = paths.iter().take(6).map(String::as_str).collect();
                let more = if paths.len() > 6 {
                    format!(", {}", tf("image.dive.more", &[("n", &(paths.len() - 6))]))
                } else {
                    String::new()
                };
                println!("    {sign} {} ({}): {}{more}", t(label), paths.len(), shown.join(", "));
            }
        };
        list("image.dive.added", &l.added, "+");
        list("image.dive.changed", &l.changed, "~");
        list("image.dive.removed", &l.removed, "-");
    }
    println!(
        "{}",
        tf(
            "image.dive.wasted",
            &[("bytes", &human(v.wasted_bytes)), ("efficiency", &format!("{:.1} %", v.efficiency * 100.0))]
        )
    );
    for (path, bytes) in v.wasted.iter().take(5) {
        println!("    {path}: {}", human(*bytes));
    }
}

/// 1.2 MB, 64.0 kB, 12 B (powers of 1000, as docker and dive print).
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}
