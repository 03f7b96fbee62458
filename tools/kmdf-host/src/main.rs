//! The `kmdf-host` command line: loads a driver image, runs `DriverEntry`
//! and AddDevice, sends the IOCTLs given with `--ioctl`, removes the
//! devices, unloads, and prints the report. `kmdf-host --help` lists the
//! options and the exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kmdf_host::{
    Error, FaultInjection, FrameworkVersion, Host, Options, STOP_EXIT_CODE, TagFilter, parse_tag,
};

/// The exit code of a clean run.
const EXIT_CLEAN: u8 = 0;
/// The exit code of a run with a violation, a pool block left at unload, or
/// a step that failed.
const EXIT_FAILED: u8 = 1;
/// The exit code of a usage error or an image that does not load (clap's
/// code for usage errors).
const EXIT_USAGE: u8 = 2;

/// Runs a KMDF driver image (.sys, x64) in this process against a
/// simulated KMDF and kernel, with KMDF Verifier and Driver Verifier style
/// checks.
///
/// Loads IMAGE, runs DriverEntry, calls AddDevice for each device, sends
/// each --ioctl to each device in order, removes the devices, unloads the
/// driver and prints the report: every violation (its rule, what happened,
/// where in the driver) and every pool block left.
#[derive(Debug, Parser)]
#[command(name = "kmdf-host", version, verbatim_doc_comment, after_help = exit_codes())]
struct Cli {
    /// The driver image: kcom_sample.sys from ci/driver-image.sh, or any
    /// KMDF driver built for x86_64-pc-windows-msvc.
    #[arg(verbatim_doc_comment)]
    image: PathBuf,

    /// The KMDF version the host presents: 1.31 or 1.33.
    #[arg(long, value_name = "VERSION", value_parser = framework,
          default_value_t = Options::default().framework, verbatim_doc_comment)]
    framework: FrameworkVersion,

    /// MmGetSystemRoutineAddress("ExAllocatePool2") returns NULL, as
    /// before Windows 10 2004, so the driver's fallback runs.
    #[arg(long, verbatim_doc_comment)]
    hide_ex_allocate_pool2: bool,

    /// The kernel's build number. Below 19041 ntoskrnl.exe does not
    /// export ExAllocatePool2: a static import of it does not resolve.
    #[arg(long, value_name = "N", value_parser = number,
          default_value_t = Options::default().kernel_build, allow_negative_numbers = true,
          verbatim_doc_comment)]
    kernel_build: u32,

    /// Driver Verifier's special pool: each of the driver's blocks ends
    /// against a no-access page, so an overrun or a use after free faults.
    #[arg(long, verbatim_doc_comment)]
    special_pool: bool,

    /// Fail the Nth pool allocation made for the driver (1: the next), or
    /// the Nth with pool tag TAG (1 to 4 characters), once. Repeatable.
    #[arg(long, value_name = "N[:TAG]", value_parser = fail_nth, verbatim_doc_comment)]
    fail_nth: Vec<FaultInjection>,

    /// Map the image away from its preferred base, so that its base
    /// relocations are applied.
    #[arg(long, verbatim_doc_comment)]
    relocate: bool,

    /// Trace every WDF and kernel call to standard error.
    #[arg(long, verbatim_doc_comment)]
    trace: bool,

    /// The PDB that names the driver's symbols in the report. Default: the
    /// one the image's CodeView record names, else IMAGE with .pdb.
    #[arg(long, value_name = "PATH", verbatim_doc_comment)]
    pdb: Option<PathBuf>,

    /// Present the requests of queues whose execution level is not passive
    /// at DISPATCH_LEVEL, the highest IRQL KMDF may use for them.
    #[arg(long, verbatim_doc_comment)]
    dispatch_level_callbacks: bool,

    /// Send IOCTL CODE (decimal, or hex after 0x), METHOD_BUFFERED, with
    /// the input bytes INPUT_HEX (two hex digits a byte; default none) and
    /// an output buffer of OUTPUT_LEN bytes (default 0). Repeatable: each
    /// device gets them in order.
    #[arg(long, value_name = "CODE[:INPUT_HEX[:OUTPUT_LEN]]", value_parser = ioctl,
          verbatim_doc_comment)]
    ioctl: Vec<Ioctl>,

    /// How many devices AddDevice is called for.
    #[arg(long, value_name = "N", value_parser = count, default_value_t = 1,
          allow_negative_numbers = true, verbatim_doc_comment)]
    devices: usize,
}

/// The exit codes, as `--help` prints them.
fn exit_codes() -> String {
    format!(
        "Exit status:\n  {EXIT_CLEAN}  a clean run\n  \
         {EXIT_FAILED}  a violation, a pool block left at unload, or a step that failed\n     \
         (DriverEntry, AddDevice, an IOCTL the host could not complete, a removal)\n  \
         {EXIT_USAGE}  a usage error, or an image that does not load\n  \
         {STOP_EXIT_CODE}  the run stopped, as the machine would (a bug check, a fault, a\n     \
         WDF_VIOLATION, a WDF function the host does not implement, a hang)"
    )
}

/// One `--ioctl`: the code, the input bytes and the output buffer's length.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ioctl {
    code: u32,
    input: Vec<u8>,
    output_len: usize,
}

/// A `u32` in decimal, or in hex after `0x`.
fn number(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        None => None,
    };
    parsed.ok_or_else(|| format!("'{text}' is not a 32-bit number (decimal, or hex after 0x)"))
}

/// `--devices`: a count, 0 or more.
fn count(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("'{text}' is not a number of devices"))
}

/// Bytes as hex digits, two a byte (`0100ff`).
fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    if let Some(bad) = text.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("'{text}' is not hex: '{bad}' is not a hex digit"));
    }
    if !text.len().is_multiple_of(2) {
        return Err(format!(
            "'{text}' is not hex bytes: an odd number of digits (two a byte)"
        ));
    }
    Ok(text
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |b: u8| (b as char).to_digit(16).expect("checked above") as u8;
            digit(pair[0]) << 4 | digit(pair[1])
        })
        .collect())
}

/// `--framework`: `1.31` or `1.33`.
fn framework(text: &str) -> Result<FrameworkVersion, String> {
    FrameworkVersion::parse(text).ok_or_else(|| format!("'{text}' is not 1.31 or 1.33"))
}

/// `--fail-nth N[:TAG]`.
fn fail_nth(text: &str) -> Result<FaultInjection, String> {
    let (n, tag) = match text.split_once(':') {
        Some((n, tag)) => (n, Some(tag)),
        None => (text, None),
    };
    let n = n
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("N '{n}' is not a number of at least 1"))?;
    let filter = match tag {
        None => TagFilter::Any,
        Some(tag) => TagFilter::Tag(
            parse_tag(tag).ok_or_else(|| format!("TAG '{tag}' is not 1 to 4 ASCII characters"))?,
        ),
    };
    Ok(FaultInjection::Nth { filter, n })
}

/// `--ioctl CODE[:INPUT_HEX[:OUTPUT_LEN]]`.
fn ioctl(text: &str) -> Result<Ioctl, String> {
    let mut parts = text.split(':');
    let code = parts.next().unwrap_or_default();
    let code = number(code).map_err(|e| format!("CODE {e}"))?;
    let input =
        hex_bytes(parts.next().unwrap_or_default()).map_err(|e| format!("INPUT_HEX {e}"))?;
    let output_len = match parts.next() {
        None => 0,
        Some(len) => len
            .parse()
            .map_err(|_| format!("OUTPUT_LEN '{len}' is not a number of bytes"))?,
    };
    if parts.next().is_some() {
        return Err("more than three ':'-separated fields".into());
    }
    Ok(Ioctl {
        code,
        input,
        output_len,
    })
}

/// A clap error as one line: its message, the values it lists and its tips,
/// without the usage and the pointer to `--help`.
fn one_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let mut line = String::new();
    let mut listed = 0;
    for text in rendered.lines() {
        if text.starts_with("Usage:") || text.starts_with("For more information") {
            break;
        }
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        if line.is_empty() {
            line.push_str(text.strip_prefix("error: ").unwrap_or(text));
        } else if text.starts_with("tip:") {
            line.push_str("; ");
            line.push_str(text);
        } else {
            line.push_str(if listed == 0 { " " } else { ", " });
            line.push_str(text);
            listed += 1;
        }
    }
    line
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version: to standard output, code 0.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::from(EXIT_CLEAN);
        }
        Err(e) => {
            eprintln!("kmdf-host: {} (see kmdf-host --help)", one_line(&e));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let options = Options {
        framework: cli.framework,
        hide_ex_allocate_pool2: cli.hide_ex_allocate_pool2,
        kernel_build: cli.kernel_build,
        special_pool: cli.special_pool,
        faults: cli.fail_nth,
        pdb: cli.pdb,
        trace: cli.trace,
        relocate: cli.relocate,
        dispatch_level_callbacks: cli.dispatch_level_callbacks,
        ..Options::default()
    };
    // SAFETY: running the image the user named is what this program is
    // for; `Host::load` documents what the host can and cannot contain.
    let mut host = match unsafe { Host::load(&cli.image, options) } {
        Ok(h) => h,
        // An I/O error names the file already.
        Err(e @ Error::Io { .. }) => {
            eprintln!("kmdf-host: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) => {
            eprintln!("kmdf-host: {}: {e}", cli.image.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    println!("kmdf-host: {}", host.image_summary());
    if let Err(e) = host.driver_entry() {
        println!("kmdf-host: {e}");
        print!("{}", host.unload());
        return ExitCode::from(EXIT_FAILED);
    }
    if let Some(b) = host.bind_summary() {
        println!(
            "kmdf-host: bound KMDF 1.{} client (minimum 1.{}) to framework {}{}",
            b.client_minor,
            b.minimum_minor.unwrap_or(b.client_minor),
            b.framework,
            if b.client_newer {
                ", client newer: it uses the framework's structure sizes"
            } else {
                ""
            }
        );
    }
    let mut failed = false;
    let mut added = Vec::new();
    for _ in 0..cli.devices {
        match host.add_device() {
            Ok(d) => {
                println!(
                    "kmdf-host: device {} added, interfaces {:?}, queues {:?}",
                    d.index,
                    host.interfaces(d),
                    host.queues(d).unwrap_or_default()
                );
                added.push(d);
            }
            Err(e) => {
                failed = true;
                println!("kmdf-host: {e}");
            }
        }
    }
    for &device in &added {
        for Ioctl {
            code,
            input,
            output_len,
        } in &cli.ioctl
        {
            match host.device_io_control(device, *code, input, *output_len) {
                Ok(c) => println!(
                    "kmdf-host: device {} IOCTL 0x{code:08X}: status 0x{:08X}, information {}",
                    device.index, c.status as u32, c.information
                ),
                Err(e) => {
                    failed = true;
                    println!("kmdf-host: device {} IOCTL 0x{code:08X}: {e}", device.index);
                }
            }
        }
    }
    for device in added {
        if let Err(e) = host.remove_device(device) {
            failed = true;
            println!("kmdf-host: {e}");
        }
    }
    let report = host.unload();
    print!("{report}");
    ExitCode::from(if report.is_clean() && !failed {
        EXIT_CLEAN
    } else {
        EXIT_FAILED
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ioctls_parse_with_their_defaults() {
        let parsed = |text| ioctl(text).unwrap();
        assert_eq!(
            parsed("0x8C0E6000:0100000008000000:4096"),
            Ioctl {
                code: 0x8C0E_6000,
                input: vec![1, 0, 0, 0, 8, 0, 0, 0],
                output_len: 4096
            }
        );
        assert_eq!(
            parsed("2236416"),
            Ioctl {
                code: 0x22_2000,
                input: vec![],
                output_len: 0
            }
        );
        assert_eq!(parsed("0X222000::4").output_len, 4);
        assert_eq!(parsed("0x222000:aBff").input, [0xAB, 0xFF]);
    }

    #[test]
    fn bad_ioctls_name_the_field_at_fault() {
        let error = |text| ioctl(text).unwrap_err();
        assert_eq!(
            error("0xZZ"),
            "CODE '0xZZ' is not a 32-bit number (decimal, or hex after 0x)"
        );
        assert!(error("0x1_0000_0000").starts_with("CODE "));
        assert!(error("0x100000000").starts_with("CODE "));
        assert!(error("+5").starts_with("CODE "));
        assert!(error("").starts_with("CODE "));
        assert_eq!(
            error("0x222000:abc"),
            "INPUT_HEX 'abc' is not hex bytes: an odd number of digits (two a byte)"
        );
        assert_eq!(
            error("0x222000:+1"),
            "INPUT_HEX '+1' is not hex: '+' is not a hex digit"
        );
        // Not ASCII: a clear error, not a panic on a character boundary.
        assert_eq!(
            error("0x222000:aéa"),
            "INPUT_HEX 'aéa' is not hex: 'é' is not a hex digit"
        );
        assert_eq!(
            error("0x222000:00:-1"),
            "OUTPUT_LEN '-1' is not a number of bytes"
        );
        assert_eq!(
            error("0x222000:00:1:2"),
            "more than three ':'-separated fields"
        );
    }

    #[test]
    fn fault_rules_parse() {
        assert_eq!(
            fail_nth("3"),
            Ok(FaultInjection::Nth {
                filter: TagFilter::Any,
                n: 3
            })
        );
        assert_eq!(
            fail_nth("1:KcNp"),
            Ok(FaultInjection::Nth {
                filter: TagFilter::Tag(u32::from_le_bytes(*b"KcNp")),
                n: 1
            })
        );
        assert_eq!(
            fail_nth("0").unwrap_err(),
            "N '0' is not a number of at least 1"
        );
        assert_eq!(
            fail_nth("2:toolong").unwrap_err(),
            "TAG 'toolong' is not 1 to 4 ASCII characters"
        );
    }

    #[test]
    fn usage_errors_are_one_line() {
        let line = |args: &[&str]| {
            let error =
                Cli::try_parse_from(std::iter::once("kmdf-host").chain(args.iter().copied()))
                    .unwrap_err();
            assert_eq!(error.exit_code(), i32::from(EXIT_USAGE), "{error}");
            one_line(&error)
        };
        assert_eq!(
            line(&["a.sys", "--trac"]),
            "unexpected argument '--trac' found; tip: a similar argument exists: '--trace'"
        );
        assert_eq!(
            line(&[]),
            "the following required arguments were not provided: <IMAGE>"
        );
        assert_eq!(
            line(&["a.sys", "--ioctl", "0x1:zz"]),
            "invalid value '0x1:zz' for '--ioctl <CODE[:INPUT_HEX[:OUTPUT_LEN]]>': \
             INPUT_HEX 'zz' is not hex: 'z' is not a hex digit"
        );
        assert_eq!(
            line(&["a.sys", "--framework", "1.29"]),
            "invalid value '1.29' for '--framework <VERSION>': '1.29' is not 1.31 or 1.33"
        );
    }
}
