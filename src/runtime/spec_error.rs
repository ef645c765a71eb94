//! Why a bundle cannot be used: [`SpecError`], and serde_json's message read into its
//! parts — the place in config.json, the field, and what is wrong there — so that the
//! mistake can be said in two wordings: `Display`, in English, for the runtime's
//! commands (what engines log), and [`SpecError::describe`], in the words of a text
//! table, for the lesson that shows the learner each mistake in their language
//! (lesson 8).

use crate::i18n::tf;
use std::path::PathBuf;

/// Why a bundle cannot be used: one sentence each (the CLI prints `Display`).
#[derive(Debug)]
pub enum SpecError {
    Missing(PathBuf),
    /// Bad JSON or a wrong type.
    Json(Box<JsonError>),
    NoRoot,
    RootfsMissing(PathBuf),
    RootfsEscapes(String),
    Io(String),
}

/// Where config.json is wrong (serde's line and column, the field's path such as
/// `process.terminal`), what is wrong, and serde's own message.
#[derive(Debug)]
pub struct JsonError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub problem: JsonProblem,
    pub message: String,
}

/// What is wrong at a place of config.json, read from serde_json's error.
#[derive(Debug, PartialEq, Eq)]
pub enum JsonProblem {
    /// Not JSON there.
    Syntax(Syntax),
    /// A value of the wrong kind (`"no"` where true or false goes).
    WrongType {
        found: Found,
        expected: Kind,
    },
    /// A name the field does not take (`"utc"` as a namespace type), and those it takes.
    UnknownVariant {
        value: String,
        allowed: Vec<String>,
    },
    MissingField(String),
    UnknownField(String),
    /// Anything else: serde's message says it.
    Other,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Syntax {
    /// `ociVersion: ...`: a key without double quotes.
    KeyNotString,
    TrailingComma,
    ExpectedColon,
    /// A `,` or the closing bracket is missing.
    ExpectedComma,
    ExpectedValue,
    /// The file ends inside a value.
    Eof,
    Other,
}

/// The kinds of JSON values.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    String,
    Number,
    Null,
    Array,
    Object,
}

/// The value that was there: its kind, and for a scalar its text (`"no"`, `5`).
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    pub kind: Option<Kind>,
    pub text: Option<String>,
}

impl JsonProblem {
    /// Read serde_json's message (without its " at line L column C").
    pub(super) fn of(category: serde_json::error::Category, message: &str) -> JsonProblem {
        use serde_json::error::Category;
        match category {
            Category::Eof => return JsonProblem::Syntax(Syntax::Eof),
            Category::Syntax => {
                return JsonProblem::Syntax(match message {
                    "key must be a string" => Syntax::KeyNotString,
                    "trailing comma" => Syntax::TrailingComma,
                    "expected `:`" => Syntax::ExpectedColon,
                    "expected `,` or `}`" | "expected `,` or `]`" => Syntax::ExpectedComma,
                    "expected value" => Syntax::ExpectedValue,
                    _ => Syntax::Other,
                })
            }
            Category::Io | Category::Data => {}
        }
        let quoted = |s: &str| -> Vec<String> { s.split('`').skip(1).step_by(2).map(str::to_string).collect() };
        if let Some(rest) = message.strip_prefix("invalid type: ").or_else(|| message.strip_prefix("invalid value: ")) {
            if let Some((found, expected)) = rest.rsplit_once(", expected ") {
                if let Some(expected) = Kind::of_expected(expected) {
                    return JsonProblem::WrongType { found: Found::of(found), expected };
                }
            }
        } else if let Some(rest) = message.strip_prefix("unknown variant ") {
            if let Some((value, allowed)) = rest.split_once(", expected ") {
                if let Some(value) = quoted(value).into_iter().next() {
                    return JsonProblem::UnknownVariant { value, allowed: quoted(allowed) };
                }
            }
        } else if let Some(rest) = message.strip_prefix("missing field ") {
            if let Some(name) = quoted(rest).into_iter().next() {
                return JsonProblem::MissingField(name);
            }
        } else if let Some(rest) = message.strip_prefix("unknown field ") {
            if let Some(name) = quoted(rest).into_iter().next() {
                return JsonProblem::UnknownField(name);
            }
        }
        JsonProblem::Other
    }
}

impl Kind {
    /// What a type expects, in serde's words: "a boolean", "a string", "u32"...
    fn of_expected(expected: &str) -> Option<Kind> {
        let e = expected.trim();
        let numeric = |w: &str| {
            let digits = w.trim_start_matches(['u', 'i', 'f']);
            digits.len() < w.len() && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        };
        Some(match e {
            "a boolean" | "bool" => Kind::Bool,
            "a string" | "a borrowed string" | "string" | "a character" => Kind::String,
            "an integer" | "a number" | "a float" => Kind::Number,
            "a sequence" | "a list" | "an array" | "a vector" => Kind::Array,
            "a map" | "map" => Kind::Object,
            "unit" | "null" => Kind::Null,
            _ if numeric(e) => Kind::Number,
            _ if e.starts_with("struct ") || e.starts_with("a map ") => Kind::Object,
            _ => return None,
        })
    }
}

impl Found {
    /// serde's "unexpected" words: `string "no"`, `integer `5``, `boolean `true``,
    /// `floating point `1.5``, `null`, `sequence`, `map`.
    fn of(found: &str) -> Found {
        let tick = |s: &str| s.trim().trim_matches('`').to_string();
        let (kind, text) = if let Some(s) = found.strip_prefix("string ") {
            (Some(Kind::String), Some(s.to_string()))
        } else if let Some(n) = found.strip_prefix("integer ").or_else(|| found.strip_prefix("floating point ")) {
            (Some(Kind::Number), Some(tick(n)))
        } else if let Some(b) = found.strip_prefix("boolean ") {
            (Some(Kind::Bool), Some(tick(b)))
        } else {
            let kind = match found {
                "null" | "unit value" => Some(Kind::Null),
                "sequence" => Some(Kind::Array),
                "map" => Some(Kind::Object),
                _ => None,
            };
            (kind, None)
        };
        Found { kind, text }
    }
}

impl SpecError {
    /// The error in the words of a text table: `s(key)` gives the text of a key of the
    /// `spec.`, `json.kind.`, `json.found.` and `json.` families (lesson 8's `## strings`), with `{name}`
    /// placeholders. `Io` errors, which carry the system's own message, keep it.
    pub fn describe(&self, s: &dyn Fn(&str) -> String) -> String {
        let fill = |key: &str, args: &[(&str, &dyn std::fmt::Display)]| {
            let mut out = s(key);
            for (name, value) in args {
                out = out.replace(&format!("{{{name}}}"), &value.to_string());
            }
            out
        };
        match self {
            SpecError::Missing(p) => fill("spec.missing", &[("file", &p.display())]),
            SpecError::NoRoot => s("spec.no_root"),
            SpecError::RootfsMissing(p) => fill("spec.rootfs_missing", &[("path", &p.display())]),
            SpecError::RootfsEscapes(p) => fill("spec.rootfs_escapes", &[("path", &p)]),
            SpecError::Io(what) => what.clone(),
            SpecError::Json(e) => {
                let JsonError { path, line, column, field, problem, message } = e.as_ref();
                let place = fill("spec.place", &[("file", &path.display()), ("line", line), ("column", column)]);
                let field =
                    if field.is_empty() || field == "." || field == "?" { s("spec.field.top") } else { field.clone() };
                let name = |k: &Kind| match k {
                    Kind::Bool => "bool",
                    Kind::String => "string",
                    Kind::Number => "number",
                    Kind::Null => "null",
                    Kind::Array => "array",
                    Kind::Object => "object",
                };
                let what = match problem {
                    JsonProblem::Syntax(syntax) => s(match syntax {
                        Syntax::KeyNotString => "json.syntax.key_not_string",
                        Syntax::TrailingComma => "json.syntax.trailing_comma",
                        Syntax::ExpectedColon => "json.syntax.expected_colon",
                        Syntax::ExpectedComma => "json.syntax.expected_comma",
                        Syntax::ExpectedValue => "json.syntax.expected_value",
                        Syntax::Eof => "json.syntax.eof",
                        Syntax::Other => "json.syntax.other",
                    }),
                    JsonProblem::WrongType { found, expected } => {
                        // "must be true or false, not the string "no"": what is expected
                        // (json.kind.*), then what was there (json.found.*, with its value).
                        let found = match &found.kind {
                            Some(k) => fill(
                                &format!("json.found.{}", name(k)),
                                &[("value", &found.text.as_deref().unwrap_or(""))],
                            ),
                            None => s("json.found.other"),
                        };
                        let expected = s(&format!("json.kind.{}", name(expected)));
                        fill("json.wrong_type", &[("field", &field), ("expected", &expected), ("found", &found)])
                    }
                    JsonProblem::UnknownVariant { value, allowed } => fill(
                        "json.unknown_variant",
                        &[("field", &field), ("value", value), ("allowed", &allowed.join(", "))],
                    ),
                    JsonProblem::MissingField(name) => fill("json.missing_field", &[("field", &field), ("name", name)]),
                    JsonProblem::UnknownField(name) => fill("json.unknown_field", &[("field", &field), ("name", name)]),
                    JsonProblem::Other => fill("json.other", &[("field", &field), ("detail", message)]),
                };
                format!("{place}: {what}")
            }
        }
    }
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpecError::Missing(p) => f.write_str(&tf("runtime.no_config", &[("path", &p.display())])),
            SpecError::Json(e) => {
                let JsonError { path, line, column, message, .. } = e.as_ref();
                write!(f, "{} line {line}, column {column}: {message}", path.display())
            }
            SpecError::NoRoot => f.write_str(&tf("runtime.no_root", &[])),
            SpecError::RootfsMissing(p) => f.write_str(&tf("runtime.rootfs_missing", &[("path", &p.display())])),
            SpecError::RootfsEscapes(p) => f.write_str(&tf("runtime.rootfs_escapes", &[("path", p)])),
            SpecError::Io(what) => write!(f, "{what}"),
        }
    }
}
