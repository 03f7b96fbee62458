//! The command line: arguments, their validation, the commands and their
//! output (tables for people, JSON for programs).
//!
//! * [`args`]: the flags and commands (clap);
//! * [`plan`]: validation of what the user typed, before anything is sent;
//! * [`backend`]: which transport the flags choose, and opening it;
//! * [`commands`]: `list`, `run` and `stats` over a [`Client`];
//! * [`render`] (and `progress`, the progress line): what the user sees.

pub mod args;
pub mod backend;
pub mod commands;
pub mod plan;
mod progress;
pub mod render;

use clap::Parser;

pub use self::args::{
    Cli, Command, DEFAULT_ITERATIONS, DEFAULT_MAX_SIZE, DEFAULT_MIN_SIZE, DEFAULT_SEED,
    INJECT_FAULT_ENV, RunArgs,
};
pub use self::backend::{Backend, HAS_DEVICE_BACKEND, choose_backend};
pub use self::plan::{RunPlan, Selection, parse_faults, resolve, validate_run};
pub use self::render::{RunRecord, pool_name, tag_text};
use crate::client::{Client, ClientError};

/// Exit code: everything succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit code: an exercise failed or leaked, or the device could not be used.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad command line input (nothing was sent to the device).
pub const EXIT_USAGE: i32 = 2;

/// A command failure: its exit code and a one-line message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Exit code.
    pub code: i32,
    /// One line, without the `kcomctl:` prefix.
    pub message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_FAILED,
            message: message.into(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::failed(e.to_string())
    }
}

/// Validates and runs a parsed command line; returns the exit code.
pub fn run(cli: &Cli) -> Result<i32, Failure> {
    // Everything the user typed is checked before a request is sent.
    let plan = match &cli.command {
        Command::Run(args) => Some(validate_run(args)?),
        _ => None,
    };
    let faults = parse_faults(&cli.inject_fault)?;
    let backend = choose_backend(cli, !faults.is_empty())?;
    let transport = backend::open(&backend, &faults)?;
    commands::execute(&Client::new(transport), cli, plan.as_ref())
}

/// The program: parses `std::env::args`, runs, prints errors as one line
/// on stderr, and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with code 0; errors to stderr.
            let _ = e.print();
            return e.exit_code();
        }
    };
    match run(&cli) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("kcomctl: {}", failure.message);
            failure.code
        }
    }
}
