//! vigil: a memorial and victim-data integrity service.
//!
//! The domain ([`model`]) and the consistency checks ([`checks`]) are plain
//! Rust; storage ([`db`]) is the only code that speaks SQL; the HTTP layer
//! ([`http`]) is thin handlers over the [`service`] functions.

pub mod checks;
pub mod model;
