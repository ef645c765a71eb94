//! The host side: what learnctr leaves on the machine, and what the machine offers.
//!
//! - `journal`: every host object is written down before it is made;
//! - `cleanup`: remove what a crashed or killed run left (journal first, then anything
//!   whose name starts with `learnctr`);
//! - `doctor`: preflight checks, each problem with its fix.

pub mod cleanup;
pub mod doctor;
pub mod journal;
