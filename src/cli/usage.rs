//! A mistake on the command line, found by clap, said in one sentence in the learner's
//! language: what is wrong, named by its own word or value, and where to look (the
//! usage line, or `learnctr COMMAND --help`). clap's own text is never shown: it is
//! English, and several lines.

use crate::i18n::{self, list_or, t, tf, Lang};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use std::ffi::OsString;

/// The language of a run. `--lang` first; without it the course follows the locale,
/// while the runtime's commands stay English: containerd and Podman read their errors
/// (they look for "does not exist"), and an engine's locale is no learner's choice.
pub fn language(flag: Option<&str>, runtime_command: bool) -> Result<Lang, String> {
    if runtime_command {
        Lang::detect(flag, |_| None)
    } else {
        Lang::detect(flag, |k| std::env::var(k).ok())
    }
}

/// What the command line says before clap has read it: `--lang`'s value, and the
/// subcommands named, in order (`rootfs import`).
pub struct Words {
    pub lang: Option<String>,
    pub path: Vec<String>,
}

impl Words {
    pub fn read(command: &clap::Command, args: &[OsString]) -> Words {
        let mut lang = None;
        let mut path = Vec::new();
        let mut cmd = command;
        let mut i = 0;
        while i < args.len() {
            let arg = args[i].to_string_lossy();
            if arg == "--" {
                break;
            }
            if let Some(flag) = arg.strip_prefix('-').filter(|f| !f.is_empty()) {
                let (name, inline) = match flag.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (flag, None),
                };
                let value = match inline {
                    Some(v) => Some(v),
                    None if takes_value(command, cmd, name) => {
                        i += 1;
                        args.get(i).map(|v| v.to_string_lossy().into_owned())
                    }
                    None => None,
                };
                if name == "-lang" {
                    lang = lang.or(value);
                }
            } else {
                match cmd.find_subcommand(arg.as_ref()) {
                    Some(sub) => {
                        path.push(sub.get_name().to_string());
                        cmd = sub;
                    }
                    None => break,
                }
            }
            i += 1;
        }
        Words { lang, path }
    }

    /// Whether the command named is one of the runtime's (`create`, `state`, ...).
    pub fn is_runtime(&self) -> bool {
        self.path.first().is_some_and(|c| <super::oci::RuntimeCommand as clap::Subcommand>::has_subcommand(c))
    }
}

/// Whether `-x` or `--name` (given without its leading dash) takes a value, in the
/// subcommand `cmd` or among the global flags of `root`.
fn takes_value(root: &clap::Command, cmd: &clap::Command, flag: &str) -> bool {
    let matches = |a: &&clap::Arg| match flag.strip_prefix('-') {
        Some(long) => a.get_long() == Some(long),
        None => flag.chars().count() == 1 && a.get_short() == flag.chars().next(),
    };
    cmd.get_arguments().chain(root.get_arguments()).find(matches).is_some_and(|a| a.get_action().takes_values())
}

/// The sentence for clap's error `e` on the command line `words` (already read).
pub fn sentence(e: &clap::Error, command: &clap::Command, words: &Words) -> String {
    let mut cmd = command;
    for name in &words.path {
        cmd = cmd.find_subcommand(name).unwrap_or(cmd);
    }
    let shown = if words.path.is_empty() { "learnctr".to_string() } else { words.path.join(" ") };
    let help = match words.path.is_empty() {
        true => "learnctr --help".to_string(),
        false => format!("learnctr {shown} --help"),
    };
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        Some(ContextValue::StyledStr(s)) => Some(s.to_string()),
        Some(ContextValue::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let strings = |kind| match e.get(kind) {
        Some(ContextValue::Strings(v)) => v.clone(),
        Some(ContextValue::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let arg = text(ContextKind::InvalidArg).map(|a| flag_of(&a)).unwrap_or_default();
    let value = text(ContextKind::InvalidValue).unwrap_or_default();
    // `[COMMAND]...` becomes `[COMMAND...]`: the sentence's full stop stays one dot.
    let usage = text(ContextKind::Usage)
        .and_then(|u| u.lines().next().map(|l| l.trim_start_matches("Usage:").trim().to_string()))
        .map(|u| u.replace("]...", "...]").replace(">...", "...>"))
        .unwrap_or_else(|| format!("learnctr {shown}"));
    let base = [("command", shown.clone()), ("help", help.clone())];
    let say = |key: &str, more: &[(&str, String)]| {
        let all: Vec<(&str, &dyn std::fmt::Display)> =
            base.iter().chain(more.iter()).map(|(k, v)| (*k, v as &dyn std::fmt::Display)).collect();
        tf(key, &all)
    };
    match e.kind() {
        ErrorKind::MissingRequiredArgument => {
            let missing = text(ContextKind::InvalidArg).unwrap_or_default();
            say("usage.missing", &[("what", what(&missing)), ("usage", usage)])
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let choices: Vec<String> = cmd
                .get_subcommands()
                .filter(|s| !s.is_hide_set() && s.get_name() != "help")
                .map(|s| s.get_name().to_string())
                .collect();
            say("usage.missing_command", &[("choices", list_or(&choices))])
        }
        ErrorKind::UnknownArgument if arg.starts_with('-') && arg != "-" => match text(ContextKind::SuggestedArg) {
            Some(s) => say("usage.unknown_option_like", &[("arg", arg), ("suggestion", s)]),
            None => say("usage.unknown_option", &[("arg", arg)]),
        },
        ErrorKind::UnknownArgument => say("usage.extra_argument", &[("arg", arg)]),
        ErrorKind::InvalidSubcommand => {
            let name = text(ContextKind::InvalidSubcommand).unwrap_or_default();
            match strings(ContextKind::SuggestedSubcommand).first() {
                Some(s) => say("usage.unknown_command_like", &[("name", name), ("suggestion", s.clone())]),
                None => say("usage.unknown_command", &[("name", name)]),
            }
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation if value.is_empty() => {
            say("usage.no_value", &[("arg", arg)])
        }
        ErrorKind::InvalidValue => {
            let choices = strings(ContextKind::ValidValue);
            match choices.is_empty() {
                true => say("usage.bad_value", &[("arg", arg), ("value", value)]),
                false => say("usage.invalid_choice", &[("arg", arg), ("value", value), ("choices", list_or(&choices))]),
            }
        }
        ErrorKind::ValueValidation if is_number_error(e) => {
            say("usage.not_a_number", &[("arg", arg), ("value", value)])
        }
        ErrorKind::ValueValidation => say("usage.bad_value", &[("arg", arg), ("value", value)]),
        ErrorKind::ArgumentConflict => {
            let other = text(ContextKind::PriorArg).map(|a| flag_of(&a)).unwrap_or_default();
            match other.is_empty() || other == arg {
                true => say("usage.repeated", &[("arg", arg)]),
                false => say("usage.conflict", &[("arg", arg), ("other", other)]),
            }
        }
        ErrorKind::TooManyValues => say("usage.too_many", &[("arg", arg), ("value", value)]),
        ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            let expected = text(ContextKind::ExpectedNumValues).or_else(|| text(ContextKind::MinValues));
            let actual = text(ContextKind::ActualNumValues).unwrap_or_default();
            say("usage.wrong_count", &[("arg", arg), ("expected", expected.unwrap_or_default()), ("actual", actual)])
        }
        ErrorKind::NoEquals => say("usage.no_equals", &[("arg", arg)]),
        ErrorKind::InvalidUtf8 => t("usage.not_utf8"),
        _ => say("usage.other", &[]),
    }
}

/// `--cpus <N>` → `--cpus`; `<SHELL>` stays as it is.
fn flag_of(arg: &str) -> String {
    match arg.starts_with('-') {
        true => arg.split([' ', '=']).next().unwrap_or(arg).to_string(),
        false => arg.to_string(),
    }
}

/// What a missing argument is, in words: `<CONTAINER_ID>` → "a container id".
fn what(arg: &str) -> String {
    let name = arg.rsplit(' ').next().unwrap_or(arg).trim_matches(['<', '>', '.', '[', ']']);
    let key = format!("usage.what.{name}");
    let text = t(&key);
    match text.starts_with('⟦') {
        true => tf("usage.what.other", &[("arg", &arg)]),
        false => text,
    }
}

fn is_number_error(e: &clap::Error) -> bool {
    use std::error::Error;
    e.source().is_some_and(|s| s.is::<std::num::ParseIntError>() || s.is::<std::num::ParseFloatError>())
}

/// The language for a clap error: `--lang` when it is one, else as for the command.
pub fn set_language(words: &Words) {
    let lang = language(words.lang.as_deref(), words.is_runtime())
        .or_else(|_| language(None, words.is_runtime()))
        .unwrap_or(Lang::En);
    i18n::set(lang);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(args: &[&str]) -> Words {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        Words::read(&super::super::command(), &args)
    }

    #[test]
    fn the_command_path_and_lang_are_read_before_clap() {
        let w = words(&["--lang", "it", "--root", "/r", "rootfs", "import", "--name", "x"]);
        assert_eq!(w.lang.as_deref(), Some("it"));
        assert_eq!(w.path, ["rootfs", "import"]);
        assert!(!w.is_runtime());
        let w = words(&["--log-format=json", "state", "--", "x"]);
        assert_eq!(w.path, ["state"]);
        assert!(w.is_runtime());
        assert_eq!(words(&["--lang=pt", "frobnicate"]).lang.as_deref(), Some("pt"));
    }

    #[test]
    fn every_subcommand_but_help_is_the_course_or_the_runtime() {
        use super::super::{oci::RuntimeCommand, CourseCommand};
        use clap::Subcommand;
        let mut all = super::super::command();
        all.build();
        for sub in all.get_subcommands().map(|s| s.get_name()).filter(|s| *s != "help") {
            assert!(CourseCommand::has_subcommand(sub) != RuntimeCommand::has_subcommand(sub), "{sub}");
            assert_eq!(words(&[sub]).is_runtime(), RuntimeCommand::has_subcommand(sub), "{sub}");
        }
        assert!(!words(&["help", "create"]).is_runtime());
    }

    #[test]
    fn every_required_argument_is_said_in_words() {
        let mut all = super::super::command();
        all.build();
        let mut stack = vec![all];
        while let Some(cmd) = stack.pop() {
            for arg in cmd.get_positionals().filter(|a| a.is_required_set()) {
                let name = arg.get_value_names().and_then(|n| n.first()).map(|n| n.to_string());
                let name = name.unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
                let said = what(&format!("<{name}>"));
                assert!(!said.contains('<'), "{} {name}: add usage.what.{name}", cmd.get_name());
            }
            stack.extend(cmd.get_subcommands().cloned());
        }
    }
}
