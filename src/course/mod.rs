//! The lesson engine: lessons are lists of steps; the runner shows each step's text,
//! performs it through the primitives, shows the trace, the observations and the
//! checks, and (on a terminal) lets the learner look around inside.

pub mod failure;
pub mod predict;
pub mod progress;
pub mod render;
pub mod runner;
pub mod step;
#[cfg(test)]
mod text_coverage;
pub mod texts;
pub mod trace_view;

pub use failure::Failure;
pub use step::{Ctx, Lesson, Step};
