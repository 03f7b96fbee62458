//! The commands (`list`, `run`, `stats`): requests through a [`Client`],
//! output through [`super::render`].

use kcom_sample_core::expected_strategy_checksum;
use kcom_sample_core::protocol::{DEFAULT_ALIGN, pool_type};

use super::args::{Cli, Command};
use super::plan::{RunPlan, resolve};
use super::progress::Progress;
use super::render::{
    PoolRecord, RunRecord, StrategyRecord, plural, pool_name, print_json, table, tag_text,
};
use super::{EXIT_FAILED, EXIT_OK, Failure};
use crate::client::{Client, ClientError, ErrorKind};
use crate::loopback::SIM_POOL;
use crate::transport::Transport;

fn cmd_list<T: Transport>(client: &Client<T>, json: bool) -> Result<i32, Failure> {
    let info = client.info()?;
    if json {
        let records: Vec<StrategyRecord<'_>> =
            info.strategies.iter().map(StrategyRecord::from).collect();
        print_json(&records)?;
        return Ok(EXIT_OK);
    }
    println!(
        "{}: {} offered, protocol {}",
        client.transport().describe(),
        plural(info.strategies.len(), "strategy"),
        info.version
    );
    println!(
        "limits: iterations <= {}, block <= {} B, align <= {}, live blocks <= {}, iterations x max-size <= {} B",
        info.max_iterations,
        info.max_alloc_size,
        info.max_align,
        info.max_live_blocks,
        info.max_total_bytes
    );
    println!();
    let rows: Vec<Vec<String>> = info
        .strategies
        .iter()
        .map(|s| {
            let mut description = s.description.clone();
            if s.passive_only() {
                description.push_str(" [PASSIVE_LEVEL only]");
            }
            vec![
                s.name.clone(),
                pool_name(s.pool_type),
                tag_text(s.tag),
                description,
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["strategy", "pool", "tag", "description"],
            &[false; 4],
            &rows
        )
    );
    Ok(EXIT_OK)
}

fn cmd_run<T: Transport>(client: &Client<T>, plan: &RunPlan, json: bool) -> Result<i32, Failure> {
    let info = client.info()?;
    let strategies = resolve(plan, &info)?;
    let progress = Progress::start(strategies.len());
    let mut records = Vec::with_capacity(strategies.len());
    let mut fatal = None;
    for s in &strategies {
        progress.running(&s.name);
        let request = plan.request(s.id);
        let expected = request
            .validate()
            .map(|p| expected_strategy_checksum(&p))
            .unwrap_or(0);
        match client.run(&request) {
            Ok(report) => records.push(RunRecord::new(&s.name, expected, Ok(report))),
            Err(ClientError {
                kind: ErrorKind::Status(status),
                ..
            }) => records.push(RunRecord::new(&s.name, expected, Err(status))),
            Err(other) => {
                fatal = Some(other);
                break;
            }
        }
        progress.done_one();
    }
    progress.finish();
    if let Some(e) = fatal {
        return Err(Failure::from(e));
    }
    let failed = records.iter().filter(|r| !r.ok).count();
    if json {
        print_json(&records)?;
    } else {
        println!("{}", client.transport().describe());
        println!(
            "{} iterations per exercise, blocks of {}..={} B, align {}, seed {}; \
             time/op: one allocation with its pattern write, check and free",
            plan.iterations,
            plan.min_size,
            plan.max_size,
            if plan.align == 0 {
                DEFAULT_ALIGN
            } else {
                plan.align
            },
            plan.seed
        );
        println!();
        let rows: Vec<Vec<String>> = records.iter().map(RunRecord::row).collect();
        print!(
            "{}",
            table(
                &[
                    "strategy",
                    "result",
                    "allocations",
                    "frees",
                    "bytes",
                    "peak",
                    "outstanding",
                    "time/op",
                ],
                &[false, false, true, true, true, true, true, true],
                &rows
            )
        );
        println!();
        if failed == 0 {
            println!(
                "{} succeeded, nothing outstanding",
                plural(records.len(), "exercise")
            );
        } else {
            for r in records.iter().filter(|r| !r.ok) {
                if let Some(e) = &r.error {
                    println!("{}: {e}", r.strategy);
                }
            }
            println!("{failed} of {} failed", plural(records.len(), "exercise"));
        }
    }
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FAILED })
}

fn cmd_stats<T: Transport>(client: &Client<T>, json: bool) -> Result<i32, Failure> {
    let entries = client.pool_stats()?;
    if json {
        let records: Vec<PoolRecord> = entries.iter().map(PoolRecord::from).collect();
        print_json(&records)?;
        return Ok(EXIT_OK);
    }
    println!(
        "{}: {}",
        client.transport().describe(),
        plural(entries.len(), "pool entry")
    );
    println!();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                pool_name(e.pool_type),
                tag_text(e.tag),
                e.allocations.to_string(),
                e.frees.to_string(),
                e.outstanding_allocations.to_string(),
                e.outstanding_bytes.to_string(),
                e.peak_bytes.to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "pool",
                "tag",
                "allocations",
                "frees",
                "outstanding",
                "outstanding bytes",
                "peak bytes",
            ],
            &[false, false, true, true, true, true, true],
            &rows
        )
    );
    if entries
        .iter()
        .any(|e| e.pool_type & SIM_POOL != 0 && e.pool_type != pool_type::HOST)
    {
        println!();
        println!(
            "(simulated) rows: the simulated pool's own accounting, including memory the exercises do not count themselves"
        );
    }
    Ok(EXIT_OK)
}

/// Runs the parsed command line on `client`.
pub fn execute<T: Transport>(
    client: &Client<T>,
    cli: &Cli,
    plan: Option<&RunPlan>,
) -> Result<i32, Failure> {
    match (&cli.command, plan) {
        (Command::List, _) => cmd_list(client, cli.json),
        (Command::Stats, _) => cmd_stats(client, cli.json),
        (Command::Run(_), Some(plan)) => cmd_run(client, plan, cli.json),
        (Command::Run(_), None) => Err(Failure::failed("internal error: run without a plan")),
    }
}
