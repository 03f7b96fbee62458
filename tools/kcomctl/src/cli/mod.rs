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
pub use self::backend::{Backend, HAS_DEVICE_BACKEND, HAS_IMAGE_BACKEND, choose_backend};
pub use self::plan::{RunPlan, Selection, parse_faults, resolve, validate_run};
pub use self::render::{RunRecord, pool_name, tag_text};
use crate::client::{Client, ClientError};
use crate::transport::Closing;

/// Exit code: everything succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit code: an exercise failed or leaked, the device could not be used,
/// or (`--image`) the host found a violation or pool left at unload.
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
    let backend = choose_backend(cli, &faults)?;
    let transport = backend::open(&backend, &faults)?;
    let client = Client::new(transport);
    let outcome = commands::execute(&client, cli, plan.as_ref());
    let closing = client.into_transport().close();
    close(outcome, closing, cli.json)
}

/// The command's outcome with what the backend found when it closed: its
/// report is printed (on stderr under `--json`, whose stdout is one JSON
/// document), and anything it found makes a successful command fail.
fn close(
    outcome: Result<i32, Failure>,
    closing: Option<Closing>,
    json: bool,
) -> Result<i32, Failure> {
    let Some(closing) = closing else {
        return outcome;
    };
    if json {
        eprint!("{}", closing.report);
    } else {
        println!();
        print!("{}", closing.report);
    }
    match outcome {
        Ok(EXIT_OK) if !closing.clean => Ok(EXIT_FAILED),
        other => other,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn closing(clean: bool) -> Option<Closing> {
        Some(Closing {
            clean,
            report: "report\n".into(),
        })
    }

    #[test]
    fn what_the_backend_finds_at_close_fails_a_successful_command() {
        // No closing report: the command's outcome stands.
        assert_eq!(close(Ok(EXIT_OK), None, false), Ok(EXIT_OK));
        assert_eq!(close(Ok(EXIT_FAILED), None, true), Ok(EXIT_FAILED));
        // A clean one changes nothing; an unclean one fails a success.
        assert_eq!(close(Ok(EXIT_OK), closing(true), true), Ok(EXIT_OK));
        assert_eq!(close(Ok(EXIT_OK), closing(false), true), Ok(EXIT_FAILED));
        assert_eq!(
            close(Ok(EXIT_FAILED), closing(false), true),
            Ok(EXIT_FAILED)
        );
        // A failure keeps its own code and message.
        let usage = Failure::usage("bad");
        assert_eq!(close(Err(usage.clone()), closing(false), true), Err(usage));
    }
}
