//! `image-lint`: checks a kernel driver image as a driver reviewer would and
//! prints what it found (see the library's documentation for the rules).
//!
//! Exit codes: 0 every rule holds; 1 a rule is broken (each printed as
//! `FAIL: ...`); 2 the image or map cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use image_lint::{LinkerMap, Report, lint};

/// Check a Windows kernel driver image (.sys) as a driver reviewer would.
#[derive(Debug, Parser)]
#[command(name = "image-lint", version)]
struct Args {
    /// The driver image (PE32+, x64).
    image: PathBuf,
    /// The linker map (/MAP) of the image: names the entry point, which must
    /// be FxDriverEntry, and checks that DriverEntry exists.
    #[arg(long)]
    map: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(report) => {
            print!("{}", render(&args, &report));
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(message) => {
            eprintln!("image-lint: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<Report, String> {
    let data = std::fs::read(&args.image)
        .map_err(|e| format!("cannot read {}: {e}", args.image.display()))?;
    let map = match &args.map {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Some(LinkerMap::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    lint(&data, map.as_ref()).map_err(|e| format!("{}: {e}", args.image.display()))
}

fn render(args: &Args, report: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "image-lint: {}", args.image.display());
    let native = if report.subsystem == 1 {
        " (native)"
    } else {
        ""
    };
    let _ = writeln!(out, "  subsystem     {}{native}", report.subsystem);
    let entry = match &report.entry_symbol {
        Some(name) => format!("{:#x} ({name})", report.entry_point),
        None => format!("{:#x}", report.entry_point),
    };
    let _ = writeln!(out, "  entry point   {entry}");
    let _ = writeln!(out, "  dll flags     {:#06x}", report.dll_characteristics);
    let sections: Vec<String> = report
        .sections
        .iter()
        .map(|s| {
            let rwx = [
                (s.readable(), 'r'),
                (s.writable(), 'w'),
                (s.executable(), 'x'),
            ]
            .iter()
            .map(|&(on, c)| if on { c } else { '-' })
            .collect::<String>();
            format!("{} {rwx}", s.name)
        })
        .collect();
    let _ = writeln!(out, "  sections      {}", sections.join(", "));
    let _ = writeln!(out, "  relocations   {} bytes", report.base_relocations);
    let _ = writeln!(out, "  imports:");
    for module in &report.imports {
        let kind = if module.delay_loaded {
            " (delay-loaded)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "    {}{kind}: {}",
            module.module,
            module.routines.join(", ")
        );
    }
    for finding in &report.findings {
        let _ = writeln!(out, "FAIL: {finding}");
    }
    if report.passed() {
        let _ = writeln!(out, "image-lint: ok");
    } else {
        let _ = writeln!(out, "image-lint: {} rule(s) broken", report.findings.len());
    }
    out
}
