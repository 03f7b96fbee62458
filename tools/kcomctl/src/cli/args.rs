//! The command line's arguments (clap): flags, commands and their defaults.
//!
//! Nothing here is validated beyond what clap checks; [`super::plan`] turns
//! the arguments into something that may be sent.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Default `--iterations`.
pub const DEFAULT_ITERATIONS: u64 = 10_000;
/// Default `--min-size`.
pub const DEFAULT_MIN_SIZE: u64 = 16;
/// Default `--max-size`.
pub const DEFAULT_MAX_SIZE: u64 = 4096;
/// Default `--seed`.
pub const DEFAULT_SEED: u64 = 1;

/// Environment variable with the loopback's fault plan (same syntax as
/// `--inject-fault`, comma separated).
pub const INJECT_FAULT_ENV: &str = "KCOMCTL_INJECT_FAULT";

/// User-mode client of the kcom sample driver.
///
/// Talks to the installed driver (Windows); with --loopback, to the same
/// driver logic running in this process over a simulated kernel pool; with
/// --image, to the compiled driver image run in this process under kmdf-host.
#[derive(Parser, Debug)]
#[command(name = "kcomctl", version)]
pub struct Cli {
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true, help_heading = "Output and backend")]
    pub json: bool,

    /// Use the in-process loopback device (the default where there is no
    /// device backend, i.e. everywhere but Windows).
    #[arg(
        long,
        global = true,
        conflicts_with = "device",
        help_heading = "Output and backend"
    )]
    pub loopback: bool,

    /// Use the installed driver (Windows only; the default there).
    ///
    /// With no enabled device interface, kcomctl looks up the device nodes
    /// that carry the INF's hardware ID: with none, the driver is not
    /// installed and it prints the `devcon install` command; otherwise it
    /// prints each node's problem code (CM_PROB_* name and number) and
    /// points to `devcon status`. Access denied when opening the device
    /// means the prompt is not elevated (the device admits only SYSTEM and
    /// Administrators); access denied on a request to an open device names
    /// the rights the request's IOCTL code demands against the handle's.
    #[arg(long, global = true, help_heading = "Output and backend")]
    pub device: bool,

    /// Load the driver image PATH (kcom_sample.sys from ci/driver-image.sh)
    /// into this process under kmdf-host, a simulated KMDF and kernel with
    /// Verifier-style checks (x86_64 Linux). After the command the device is
    /// removed and the driver unloaded; a violation or a pool block left at
    /// unload makes the exit code 1, and a stop (bug check, fault) ends the
    /// process with code 3. The image's code runs with this process's
    /// access: give it only a driver image you trust.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        conflicts_with_all = ["device", "loopback"],
        help_heading = "Output and backend"
    )]
    pub image: Option<PathBuf>,

    /// Loopback and image only: make the Nth pool allocation of STRATEGY's
    /// exercise fail, by its pool tag (testing aid).
    #[arg(
        long,
        global = true,
        hide = true,
        env = INJECT_FAULT_ENV,
        value_name = "STRATEGY:N",
        value_delimiter = ','
    )]
    pub inject_fault: Vec<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the strategies the driver offers (GET_INFO).
    List,
    /// Run exercises and print what each did (RUN_EXERCISE).
    Run(RunArgs),
    /// Show the pool accounting (POOL_STATS).
    Stats,
}

/// Arguments of `run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Strategies to run, or `all` for every one the driver offers.
    #[arg(required = true, value_name = "STRATEGY")]
    pub strategies: Vec<String>,

    /// Blocks each exercise allocates (1..=1000000).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_ITERATIONS)]
    pub iterations: u64,

    /// Smallest block size in bytes (1..=1048576).
    #[arg(long, value_name = "B", default_value_t = DEFAULT_MIN_SIZE)]
    pub min_size: u64,

    /// Largest block size in bytes (min-size..=1048576).
    #[arg(long, value_name = "B", default_value_t = DEFAULT_MAX_SIZE)]
    pub max_size: u64,

    /// Block alignment: 0 for the default (8) or a power of two up to 4096.
    #[arg(long, value_name = "A", default_value_t = 0)]
    pub align: u64,

    /// Seed of the block sizes and of the patterns written into them.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
