//! vigil: a memorial and victim-data integrity service.
//!
//! The domain ([`model`]) and the consistency checks ([`checks`]) are plain
//! Rust and know nothing of HTTP or SQL; [`files`] reads and writes import
//! folders; storage ([`db`]) is the only code that speaks SQL; [`service`]
//! holds what vigil does, and the CLI ([`cli`]) and the HTTP handlers
//! ([`http`]) are thin layers over it.

pub(crate) mod words;

pub mod accounts;
pub mod audit;
pub mod checks;
pub mod cli;
pub mod db;
pub mod demo;
pub mod document;
pub mod error;
pub mod files;
pub mod http;
pub mod logging;
pub mod model;
pub mod service;
pub mod text;
pub mod time;

pub use error::{Error, Result};
