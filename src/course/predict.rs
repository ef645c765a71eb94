//! Predict, then see: before a step whose result surprises (pivot_root refused on a
//! shared `/`, the chroot escape, the OOM kill, EPERM under seccomp, lo down in a new
//! network namespace), the learner picks what they think the kernel will do; after
//! the step, whether that was right and why. Only on a terminal: `--yes` and tests
//! ask nothing.
//!
//! The questions live in the lesson texts' strings: `predict.STEP.question`, the
//! choices `predict.STEP.1` …, `predict.STEP.right` (the number of the right one) and
//! `predict.STEP.why`.

use super::texts::LessonText;
use crate::i18n::{t, tf};
use colored::Colorize;

/// The question of a step, if its lesson text has one: the question, the choices,
/// the right choice (0-based), why.
pub struct Question {
    pub question: String,
    pub choices: Vec<String>,
    pub right: usize,
    pub why: String,
}

pub fn of(text: &LessonText, step: &str) -> Option<Question> {
    let get = |k: &str| text.strings.get(&format!("predict.{step}.{k}")).cloned();
    let question = get("question")?;
    let choices: Vec<String> = (1..=6).map_while(|n| get(&n.to_string())).collect();
    let right = get("right")?.trim().parse::<usize>().ok()?.checked_sub(1)?;
    (right < choices.len()).then_some(Question { question, choices, right, why: get("why").unwrap_or_default() })
}

/// Ask, on the terminal; `None` when the learner skips (Esc) or there is no question.
pub fn ask(text: &LessonText, step: &str) -> Option<usize> {
    let q = of(text, step)?;
    println!();
    dialoguer::Select::new()
        .with_prompt(format!("{} {}", t("predict.prompt"), q.question))
        .items(&q.choices)
        .default(0)
        .interact_opt()
        .ok()
        .flatten()
}

/// After the step: the learner's guess against the right answer, and why.
pub fn answer(text: &LessonText, step: &str, guess: usize) {
    let Some(q) = of(text, step) else { return };
    println!();
    if guess == q.right {
        println!("{}", t("predict.right").green().bold());
    } else {
        println!("{}", tf("predict.wrong", &[("answer", &q.choices[q.right])]).yellow().bold());
    }
    super::render::prose(&q.why);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    /// The five surprising steps have a question in every language, with the same
    /// right answer.
    #[test]
    fn the_surprising_steps_ask_in_every_language() {
        let steps = [(2, "escape"), (3, "propagation"), (5, "memory"), (6, "seccomp"), (7, "netns")];
        for (n, step) in steps {
            let en = of(&crate::course::texts::lesson(Lang::En, n).unwrap(), step).expect("an English question");
            for lang in [Lang::It, Lang::Pt] {
                let q = of(&crate::course::texts::lesson(lang, n).unwrap(), step)
                    .unwrap_or_else(|| panic!("{lang:?}: no question for lesson {n} step {step}"));
                assert_eq!((q.choices.len(), q.right), (en.choices.len(), en.right), "{lang:?} lesson {n} {step}");
                assert!(!q.why.is_empty(), "{lang:?} lesson {n} {step}");
            }
        }
    }
}
