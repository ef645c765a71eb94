//! Printing to the terminal: lesson prose, shell equivalents, the trace,
//! observations and checks. Colour comes from `colored` and is off with `NO_COLOR`
//! or `--no-color` (decided once in `main`).

use super::step::{Check, Observation};
use super::trace_view::Line;
use crate::i18n::{t, tf};
use colored::Colorize;

pub fn lesson_title(number: u32, title: &str) {
    println!();
    println!("{}", format!("━━ {} ━━", tf("lesson.title", &[("n", &number), ("title", &title)])).bold().blue());
}

pub fn step_title(index: usize, count: usize, id: &str, title: &str) {
    println!();
    println!("{}", format!("── {} · {id} — {title}", tf("step.counter", &[("i", &index), ("n", &count)])).bold());
}

/// Light Markdown: fenced code blocks indented and coloured, `code` in cyan, **bold**.
pub fn prose(text: &str) {
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            println!("    {}", line.green());
        } else {
            println!("{}", inline(line));
        }
    }
}

fn inline(line: &str) -> String {
    let mut out = String::new();
    let mut code = false;
    for (i, part) in line.split('`').enumerate() {
        if i > 0 {
            code = !code;
        }
        if code {
            out.push_str(&part.cyan().to_string());
        } else {
            let mut bold = false;
            for (j, piece) in part.split("**").enumerate() {
                if j > 0 {
                    bold = !bold;
                }
                out.push_str(&emphasis(piece, bold));
            }
        }
    }
    out
}

/// `*italic*` inside a piece of prose; with an odd number of `*` (a lone star, as in
/// `ls *`), the text is left as it is.
fn emphasis(piece: &str, bold: bool) -> String {
    let parts: Vec<&str> = piece.split('*').collect();
    if parts.len().is_multiple_of(2) {
        return if bold { piece.bold().to_string() } else { piece.to_string() };
    }
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        let styled = match (bold, i % 2 == 1) {
            (true, true) => p.bold().italic().to_string(),
            (true, false) => p.bold().to_string(),
            (false, true) => p.italic().to_string(),
            (false, false) => p.to_string(),
        };
        out.push_str(&styled);
    }
    out
}

pub fn shell_equivalent(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    println!();
    println!("{}", t("label.shell").dimmed());
    for line in lines {
        println!("    {} {}", "#".dimmed(), line.green());
    }
}

/// A step's trace: its calls, `▶` before the ones the text is about, and one line for
/// each run of calls an earlier step showed. `hint`: say once how to see them all.
pub fn trace(lines: &[Line], hint: &mut bool) {
    if lines.is_empty() {
        return;
    }
    println!();
    println!("{}", t("label.trace").dimmed());
    for line in lines {
        match line {
            Line::Call { event, key } => {
                let text = event.to_string();
                let failed = event.result.starts_with("-1");
                let text = if *key {
                    text.bold()
                } else if failed {
                    text.yellow()
                } else {
                    text.dimmed()
                };
                println!("  {} {text}", if *key { "▶".bold() } else { " ".normal() });
            }
            Line::Folded { count, first_step, names } => {
                let kinds: Vec<String> =
                    names.iter().map(|(n, c)| if *c == 1 { n.clone() } else { format!("{n} ×{c}") }).collect();
                let folded =
                    tf("trace.folded", &[("count", count), ("step", first_step), ("calls", &kinds.join(", "))]);
                println!("    {}", format!("⋯ {folded}").dimmed());
                if *hint {
                    println!("      {}", t("trace.full_hint").dimmed());
                    *hint = false;
                }
            }
        }
    }
}

pub fn facts(list: &[(String, String)]) {
    if list.is_empty() {
        return;
    }
    println!();
    for (label, value) in list {
        println!("    {}: {}", label.bold(), value);
    }
}

pub fn observations(list: &[Observation], columns: Option<&(String, String)>) {
    if list.is_empty() {
        return;
    }
    println!();
    let (host, inside) = columns.cloned().unwrap_or_else(|| (t("label.host"), t("label.inside")));
    let label_w = list.iter().map(|o| width(&o.label)).max().unwrap_or(0).max(8);
    let single = |s: &str| !s.contains('\n') && width(s) <= 44;
    let host_w = list.iter().filter(|o| single(&o.host)).map(|o| width(&o.host)).max().unwrap_or(0).max(width(&host));
    println!("    {:label_w$}  {}  {}", "", pad(&host, host_w).bold(), inside.bold());
    for o in list {
        if single(&o.host) && single(&o.inside) {
            println!("    {}  {}  {}", pad(&o.label, label_w), pad(&o.host, host_w), o.inside.cyan());
        } else {
            println!("    {}", o.label);
            block(&host, &o.host, false);
            block(&inside, &o.inside, true);
        }
    }
}

fn block(title: &str, text: &str, inside: bool) {
    println!("      {title}:");
    for line in text.lines().take(40) {
        let line = format!("        {line}");
        println!("{}", if inside { line.cyan() } else { line.normal() });
    }
    if text.lines().count() > 40 {
        println!("        [...]");
    }
}

pub fn checks(list: &[Check]) {
    if list.is_empty() {
        return;
    }
    println!();
    for c in list {
        if c.passed {
            println!("  {} {}", "✓".green().bold(), c.claim);
        } else {
            println!("  {} {}", "✗".red().bold(), c.claim.red());
            println!("      {} {}", t("label.measured").dimmed(), c.measured);
        }
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}
