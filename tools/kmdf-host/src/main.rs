//! `kmdf-host IMAGE [options]`: loads a driver image, runs `DriverEntry`
//! and AddDevice, sends the IOCTLs given with `--ioctl`, removes the device,
//! unloads, and prints the report. Exit status: 0 clean, 1 a violation, a
//! pool block left or a step that failed (DriverEntry, AddDevice, an IOCTL
//! the host could not complete, a removal), 2 usage or load error, 3 the
//! run stopped.

use std::process::ExitCode;

use kmdf_host::{FaultInjection, FrameworkVersion, Host, Options, TagFilter, parse_tag};

const USAGE: &str =
    "usage: kmdf-host IMAGE [--framework 1.31|1.33] [--hide-ex-allocate-pool2] [--kernel-build N]
                 [--special-pool] [--fail-nth N[:TAG]] [--relocate] [--trace] [--pdb PATH]
                 [--dispatch-level-callbacks]
                 [--ioctl CODE[:INPUT_HEX[:OUTPUT_LEN]]]... [--devices N]";

fn parse_u32(text: &str) -> Option<u32> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut options = Options::default();
    let mut image = None;
    let mut ioctls: Vec<(u32, Vec<u8>, usize)> = Vec::new();
    let mut devices = 1usize;
    let mut i = 0;
    let usage = |message: &str| -> ExitCode {
        eprintln!("kmdf-host: {message}\n{USAGE}");
        ExitCode::from(2)
    };
    while i < args.len() {
        let value = args.get(i + 1).cloned();
        match args[i].as_str() {
            "--framework" => match value.as_deref().and_then(FrameworkVersion::parse) {
                Some(v) => {
                    options.framework = v;
                    i += 1;
                }
                None => return usage("--framework takes 1.31 or 1.33"),
            },
            "--hide-ex-allocate-pool2" => options.hide_ex_allocate_pool2 = true,
            "--special-pool" => options.special_pool = true,
            "--relocate" => options.relocate = true,
            "--dispatch-level-callbacks" => options.dispatch_level_callbacks = true,
            "--trace" => options.trace = true,
            "--kernel-build" => match value.as_deref().and_then(parse_u32) {
                Some(b) => {
                    options.kernel_build = b;
                    i += 1;
                }
                None => return usage("--kernel-build takes a number"),
            },
            "--pdb" => match value {
                Some(p) => {
                    options.pdb = Some(p.into());
                    i += 1;
                }
                None => return usage("--pdb takes a path"),
            },
            "--devices" => match value.as_deref().and_then(|v| v.parse().ok()) {
                Some(n) => {
                    devices = n;
                    i += 1;
                }
                None => return usage("--devices takes a number"),
            },
            "--fail-nth" => {
                let Some(v) = value else {
                    return usage("--fail-nth takes N[:TAG]");
                };
                let (n, tag) = match v.split_once(':') {
                    Some((n, t)) => (n, Some(t)),
                    None => (v.as_str(), None),
                };
                let Some(n) = n.parse::<u64>().ok().filter(|n| *n > 0) else {
                    return usage("--fail-nth: N must be at least 1");
                };
                let filter = match tag {
                    None => TagFilter::Any,
                    Some(t) => match parse_tag(t) {
                        Some(t) => TagFilter::Tag(t),
                        None => return usage("--fail-nth: a tag is 1 to 4 ASCII characters"),
                    },
                };
                options.faults.push(FaultInjection::Nth { filter, n });
                i += 1;
            }
            "--ioctl" => {
                let Some(v) = value else {
                    return usage("--ioctl takes CODE[:INPUT_HEX[:OUTPUT_LEN]]");
                };
                let mut parts = v.split(':');
                let Some(code) = parts.next().and_then(parse_u32) else {
                    return usage("--ioctl: bad code");
                };
                let Some(input) = hex_bytes(parts.next().unwrap_or("")) else {
                    return usage("--ioctl: bad input hex");
                };
                let Some(out) = parts.next().map_or(Some(0), |o| o.parse().ok()) else {
                    return usage("--ioctl: bad output length");
                };
                ioctls.push((code, input, out));
                i += 1;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            a if a.starts_with('-') => return usage(&format!("unknown option {a}")),
            a => image = Some(a.to_string()),
        }
        i += 1;
    }
    let Some(image) = image else {
        return usage("no image given");
    };
    // SAFETY: running the image the user named is what this program is
    // for; `Host::load` documents what the host can and cannot contain.
    let mut host = match unsafe { Host::load(&image, options) } {
        Ok(h) => h,
        Err(e) => {
            eprintln!("kmdf-host: {e}");
            return ExitCode::from(2);
        }
    };
    println!("kmdf-host: {}", host.image_summary());
    if let Err(e) = host.driver_entry() {
        println!("kmdf-host: {e}");
        print!("{}", host.unload());
        return ExitCode::from(1);
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
    for _ in 0..devices {
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
        for (code, input, out) in &ioctls {
            match host.device_io_control(device, *code, input, *out) {
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
    if report.is_clean() && !failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
