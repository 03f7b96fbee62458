//! One loaded driver and everything the simulated system keeps for it.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use crate::linux::cpu::stack::Usage;
use crate::linux::cpu::thread::{self, Callback};
use crate::linux::cpu::unwind;
use crate::linux::kernel::pool::{BlockInfo, Freed, Pool};
use crate::linux::kernel::sync::Dispatcher;
use crate::linux::loader::image::Image;
use crate::options::{DebugOutput, Options, tag_text};
use crate::report::{Rule, StackPeak, Violation};

/// What the kernel needs of the framework backend a session runs on; the
/// backend's own state is reached through [`Session::backend`].
pub(crate) trait Backend: Any + Send + Sync + std::fmt::Debug {
    /// A line the framework adds to the report of a bug check with `code`,
    /// if it knows something about it.
    fn bug_check_note(&self, code: u32) -> Option<String>;
}

/// A session: the image, the kernel's state (pool, dispatcher objects) and
/// the framework backend's (objects, devices, queues) for one driver.
#[derive(Debug)]
pub(crate) struct Session {
    pub options: Options,
    pub image: Image,
    pub pool: Pool,
    pub dispatcher: Dispatcher,
    backend: Box<dyn Backend>,
    violations: Mutex<Vec<Violation>>,
    debug_log: Mutex<Vec<String>>,
    framework_log: Mutex<VecDeque<String>>,
    /// The kernel stack peak of each entry point, and whether its overrun
    /// of the budget was reported.
    stack: Mutex<Vec<(StackPeak, bool)>>,
}

/// Lines the framework's log keeps (KMDF's in-flight recorder is a ring).
const FRAMEWORK_LOG_LINES: usize = 4096;

impl Session {
    /// A session of `image` on the framework `backend`.
    pub(crate) fn new(image: Image, options: Options, backend: Box<dyn Backend>) -> Session {
        Session {
            pool: Pool::new(&options),
            dispatcher: Dispatcher::default(),
            backend,
            violations: Mutex::new(Vec::new()),
            debug_log: Mutex::new(Vec::new()),
            framework_log: Mutex::new(VecDeque::new()),
            stack: Mutex::new(Vec::new()),
            image,
            options,
        }
    }

    /// The session of this thread, if it runs driver code.
    pub(crate) fn try_current() -> Option<Arc<Session>> {
        thread::session_ref().and_then(|s| s.downcast::<Session>().ok())
    }

    /// The session of this thread. Driver code only runs on threads the
    /// host entered, so a kernel or WDF call without one means the driver
    /// started a thread of its own, which the host cannot model: the run
    /// stops.
    pub(crate) fn current() -> Arc<Session> {
        match Session::try_current() {
            Some(s) => s,
            None => crate::linux::kernel::stop::stop_without_session(
                "a kernel or WDF routine was called on a thread kmdf-host did not start",
            ),
        }
    }

    /// The framework backend's state, if it is a `B`.
    pub(crate) fn backend<B: Backend>(&self) -> Option<&B> {
        let backend: &dyn Any = &*self.backend;
        backend.downcast_ref::<B>()
    }

    /// The framework's note for a bug check with `code`.
    pub(crate) fn bug_check_note(&self, code: u32) -> Option<String> {
        self.backend.bug_check_note(code)
    }

    /// Names an address (in the image: section and nearest symbol).
    pub(crate) fn describe(&self, address: usize) -> String {
        self.image.describe(address)
    }

    /// Where the driver's current call into the host comes from: the call
    /// site in the image or, for a tail call (a `jmp` to the import, whose
    /// return address is the host's), the callback that made it.
    pub(crate) fn describe_caller(&self) -> String {
        let caller = thread::caller();
        if self.image.contains(caller) {
            return self.image.describe_return(caller);
        }
        match thread::current_callback() {
            Some(c) if c.address != 0 => format!(
                "{} (the {}, by a tail call: no call site on the stack)",
                self.describe(c.address),
                c.what
            ),
            Some(c) => format!("kmdf-host's {}", c.what),
            None => "kmdf-host".to_string(),
        }
    }

    /// Records a violation at the driver's current call site.
    pub(crate) fn violation(&self, rule: Rule, message: String) {
        let location = Some(self.describe_caller());
        self.violation_at(rule, message, location);
    }

    /// Frees a block the host allocated for the driver (a system buffer, an
    /// object's memory and context) and reports damage the driver did
    /// around it.
    pub(crate) fn free_host_block(&self, p: usize) {
        if let Freed::Ok(info) = self.pool.free(p, None, 0) {
            self.report_corruption(&info, None);
        }
    }

    /// Reports (as `PoolCorruption`) a freed block whose surroundings the
    /// driver overwrote; `free` names the driver's free call.
    pub(crate) fn report_corruption(&self, info: &BlockInfo, free: Option<&str>) {
        let Some(at) = info.corrupted_at else { return };
        let block = match &info.what {
            Some(what) => format!("{what} ({} bytes)", info.size),
            None => format!(
                "{}-byte block (tag '{}', allocated at {})",
                info.size,
                tag_text(info.tag),
                self.describe(info.caller)
            ),
        };
        let message = format!(
            "{}the bytes {} the {block} were overwritten, first at offset {at}",
            free.map(|f| format!("{f}: ")).unwrap_or_default(),
            if at < 0 { "before" } else { "after" },
        );
        match free {
            Some(_) => self.violation(Rule::PoolCorruption, message),
            None => self.violation_at(Rule::PoolCorruption, message, None),
        }
    }

    /// Records a violation with an explicit location.
    pub(crate) fn violation_at(&self, rule: Rule, message: String, location: Option<String>) {
        let v = Violation {
            rule,
            message,
            location,
        };
        if self.options.trace {
            eprintln!("kmdf-host: VIOLATION {v}");
        }
        self.violations.lock().unwrap().push(v);
    }

    /// Records how deep one call into the driver's `callback` went; the
    /// first call of an entry point that goes past the budget is a
    /// violation naming it and the driver's deepest call stack. Entry
    /// points outside the image (the framework's, which the host
    /// implements) are not the driver's and are not recorded.
    pub(crate) fn record_stack(&self, callback: Callback, usage: &Usage) {
        if !self.image.contains(callback.address) {
            return;
        }
        let over = {
            let mut peaks = self.stack.lock().unwrap();
            let at = match peaks.iter().position(|(p, _)| p.entry == callback.what) {
                Some(at) => at,
                None => {
                    peaks.push((
                        StackPeak {
                            entry: callback.what.to_string(),
                            peak: 0,
                            calls: 0,
                        },
                        false,
                    ));
                    peaks.len() - 1
                }
            };
            let (peak, reported) = &mut peaks[at];
            peak.calls += 1;
            peak.peak = peak.peak.max(usage.peak);
            let budget = self.options.stack_budget;
            usage.peak > budget && !std::mem::replace(reported, true)
        };
        if !over {
            return;
        }
        let chain = match &usage.deepest {
            Some(deepest) => {
                let frames = unwind::call_chain(&self.image, deepest);
                format!(
                    "its deepest call into the kernel, {} bytes down: {}",
                    deepest.depth,
                    if frames.is_empty() {
                        "(no frames)".to_string()
                    } else {
                        frames.join(" <- ")
                    }
                )
            }
            None => "it made no call into the kernel".to_string(),
        };
        self.violation_at(
            Rule::KernelStackOverrun,
            format!(
                "{} used {} bytes of kernel stack, over the budget of {} bytes; {chain}",
                callback.what, usage.peak, self.options.stack_budget
            ),
            Some(self.describe(callback.address)),
        );
    }

    /// The kernel stack peak of each of the driver's entry points.
    pub(crate) fn stack_peaks(&self) -> Vec<StackPeak> {
        self.stack
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Every violation so far.
    pub(crate) fn violations(&self) -> Vec<Violation> {
        self.violations.lock().unwrap().clone()
    }

    /// Traces a call (option `trace`).
    pub(crate) fn trace(&self, what: std::fmt::Arguments<'_>) {
        if self.options.trace {
            eprintln!("kmdf-host: {what}");
        }
    }

    /// A line of the driver's debug output.
    pub(crate) fn debug_print(&self, line: String) {
        if self.options.debug_output == DebugOutput::Stderr || self.options.trace {
            eprintln!("[DbgPrint] {}", line.trim_end());
        }
        self.debug_log.lock().unwrap().push(line);
    }

    /// A line of the framework's log: what KMDF writes to its in-flight
    /// recorder (`DoTraceLevelMessage` at `TRACE_LEVEL_ERROR`) when it
    /// refuses a call.
    pub(crate) fn framework_trace(&self, line: String) {
        if self.options.trace {
            eprintln!("kmdf-host: [KMDF] {line}");
        }
        let mut log = self.framework_log.lock().unwrap();
        if log.len() == FRAMEWORK_LOG_LINES {
            log.pop_front();
        }
        log.push_back(line);
    }

    /// The framework's log so far, oldest first.
    pub(crate) fn framework_log(&self) -> Vec<String> {
        self.framework_log.lock().unwrap().iter().cloned().collect()
    }

    /// The driver's debug output so far.
    pub(crate) fn debug_log(&self) -> Vec<String> {
        self.debug_log.lock().unwrap().clone()
    }

    /// What a stop report says about the session besides the cause. Uses
    /// `try_lock` only: the stopping thread may hold any lock.
    pub(crate) fn stop_summary(&self) -> String {
        let mut out = String::new();
        if let Ok(v) = self.violations.try_lock() {
            for v in v.iter() {
                let _ = writeln!(out, "kmdf-host: earlier violation {v}");
            }
        }
        if let Ok(log) = self.debug_log.try_lock() {
            for line in log.iter().rev().take(5).rev() {
                let _ = writeln!(out, "kmdf-host: DbgPrint: {}", line.trim_end());
            }
        }
        if let Some(summary) = self.pool.try_summary() {
            let _ = writeln!(out, "kmdf-host: {summary}");
        }
        let _ = writeln!(
            out,
            "kmdf-host: image {} at {:#x} ({})",
            self.image.path.display(),
            self.image.base,
            self.image.symbol_source
        );
        out
    }
}
