//! Stopping the run, as a bug check stops the machine: the report is
//! written to standard error and the process exits with [`STOP_EXIT_CODE`].

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::api::STOP_EXIT_CODE;
use crate::linux::kernel::session::Session;
use crate::report::Rule;

static STOPPING: AtomicBool = AtomicBool::new(false);

/// Stops the run in a routine the driver called: `rule` broken, `message`
/// says how; the report names the call site and the driver's call stack.
pub(crate) fn stop(rule: Rule, message: String) -> ! {
    let session = Session::try_current();
    let location = session.as_ref().map(|s| s.describe_caller());
    stop_with_details(rule, message, location, &[])
}

/// Stops the run in a routine the driver called, with extra report lines;
/// the driver's call stack is added.
pub(crate) fn stop_with_details(
    rule: Rule,
    message: String,
    location: Option<String>,
    details: &[String],
) -> ! {
    let session = Session::try_current();
    let mut lines = details.to_vec();
    if let Some(s) = &session {
        lines.push("driver call stack:".into());
        lines.extend(
            crate::linux::cpu::unwind::driver_stack(&s.image, None)
                .into_iter()
                .map(|line| format!("  {line}")),
        );
    }
    finish(
        session.as_deref(),
        rule,
        &message,
        location.as_deref(),
        &lines,
    )
}

/// Stops the run at a fault; `details` already hold the call stack.
pub(crate) fn stop_at_fault(
    rule: Rule,
    message: String,
    location: Option<String>,
    details: &[String],
) -> ! {
    let session = Session::try_current();
    finish(
        session.as_deref(),
        rule,
        &message,
        location.as_deref(),
        details,
    )
}

/// Stops the run from a thread that has no session.
pub(crate) fn stop_without_session(message: &str) -> ! {
    finish(None, Rule::Fault, message, None, &[])
}

fn finish(
    session: Option<&Session>,
    rule: Rule,
    message: &str,
    location: Option<&str>,
    details: &[String],
) -> ! {
    if STOPPING.swap(true, Ordering::SeqCst) {
        // Another thread is writing the report and will end the process.
        loop {
            std::thread::park();
        }
    }
    let mut out = String::new();
    out.push_str(&format!("kmdf-host: STOP [{}] {message}\n", rule.id()));
    if let Some(at) = location {
        out.push_str(&format!("kmdf-host:   at {at}\n"));
    }
    for line in details {
        out.push_str(&format!("kmdf-host:   {line}\n"));
    }
    if let Some(s) = session {
        out.push_str(&s.stop_summary());
    }
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(out.as_bytes());
    let _ = stderr.flush();
    let _ = std::io::stdout().flush();
    // SAFETY: ends the process without running destructors or atexit
    // handlers, as other threads may still be inside driver code.
    unsafe { libc::_exit(STOP_EXIT_CODE) }
}
