//! The driver's call stack, unwound as Windows unwinds x64 code: each
//! function's `RUNTIME_FUNCTION` in the image's exception directory
//! (`.pdata`) and its `UNWIND_INFO` (`.xdata`) say how the prolog moved the
//! stack pointer and where it saved registers; undoing that gives the
//! caller's registers and the return address. A function without an entry
//! is a leaf (its return address is at RSP). At a fault, code that matches
//! an epilog (`add rsp` / `lea rsp`, `pop`s, `ret` or `jmp`) is undone by
//! emulating the rest of the epilog, as `RtlVirtualUnwind` does.
//!
//! Supported unwind codes: `UWOP_PUSH_NONVOL`, `UWOP_ALLOC_LARGE`,
//! `UWOP_ALLOC_SMALL`, `UWOP_SET_FPREG`, `UWOP_SAVE_NONVOL(_FAR)`,
//! `UWOP_SAVE_XMM128(_FAR)` (the XMM values are not tracked),
//! `UWOP_PUSH_MACHFRAME`, version 2's `UWOP_EPILOG` entries (skipped) and
//! chained unwind info (`UNW_FLAG_CHAININFO`).
//!
//! Every read is checked: stack reads against the thread's stack, unwind
//! data against the image's readable sections, so a corrupt stack ends the
//! walk instead of faulting.

use crate::linux::cpu::stack::{self, DeepestCall};
use crate::linux::cpu::thread::{self, CallSite};
use crate::linux::loader::image::Image;

/// `UNW_FLAG_CHAININFO`.
const UNW_FLAG_CHAININFO: u8 = 0x4;
/// Register numbers of the x64 unwind codes.
const RSP: usize = 4;
/// How many frames a walk gives at most.
const MAX_FRAMES: usize = 64;
/// How many chained unwind infos one function may have at most.
const MAX_CHAIN: usize = 32;

/// The 16 general registers (in the unwind codes' numbering: RAX, RCX, RDX,
/// RBX, RSP, RBP, RSI, RDI, R8..R15), which of them are known, and RIP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Registers {
    pub rip: usize,
    pub gpr: [usize; 16],
    /// Bit `n`: `gpr[n]` holds the register's value.
    pub known: u16,
}

impl Registers {
    fn rsp(&self) -> usize {
        self.gpr[RSP]
    }

    fn set(&mut self, register: usize, value: usize) {
        self.gpr[register] = value;
        self.known |= 1 << register;
    }

    fn get(&self, register: usize) -> Option<usize> {
        (self.known & (1 << register) != 0).then_some(self.gpr[register])
    }

    /// The registers at a call into the host: RIP is the return address,
    /// RSP just above it, the nonvolatile ones as the thunk saved them.
    pub(crate) fn at_call(site: &CallSite) -> Registers {
        let mut r = Registers {
            rip: site.return_address,
            ..Registers::default()
        };
        r.set(RSP, site.rsp);
        // RBX, RBP, RSI, RDI, R12..R15 in the unwind codes' numbering.
        for (value, register) in site.nonvolatile.iter().zip([3, 5, 6, 7, 12, 13, 14, 15]) {
            r.set(register, *value);
        }
        r
    }

    /// The registers of a signal context.
    pub(crate) fn from_signal(gregs: &[i64; 23]) -> Registers {
        let g = |i: i32| gregs[i as usize] as usize;
        let mut r = Registers {
            rip: g(libc::REG_RIP),
            ..Registers::default()
        };
        let order = [
            libc::REG_RAX,
            libc::REG_RCX,
            libc::REG_RDX,
            libc::REG_RBX,
            libc::REG_RSP,
            libc::REG_RBP,
            libc::REG_RSI,
            libc::REG_RDI,
            libc::REG_R8,
            libc::REG_R9,
            libc::REG_R10,
            libc::REG_R11,
            libc::REG_R12,
            libc::REG_R13,
            libc::REG_R14,
            libc::REG_R15,
        ];
        for (n, reg) in order.into_iter().enumerate() {
            r.set(n, g(reg));
        }
        r
    }
}

/// Memory the walk may read: the image (unwind data, code) and the
/// thread's stack.
pub(crate) struct Memory<'a> {
    pub image: &'a Image,
    /// `[low, high)` of the stack being walked.
    pub stack: (usize, usize),
    /// A copy of the stack's bytes from `low` on, read instead of the
    /// stack itself (the stack as it was at an earlier call).
    pub copy: Option<&'a [u8]>,
}

impl Memory<'_> {
    fn stack_u64(&self, address: usize) -> Option<usize> {
        let (low, high) = self.stack;
        if address < low || address.checked_add(8)? > high || !address.is_multiple_of(8) {
            return None;
        }
        if let Some(copy) = self.copy {
            let at = address - low;
            let bytes = copy.get(at..at + 8)?;
            return Some(usize::from_le_bytes(bytes.try_into().ok()?));
        }
        // SAFETY: 8 aligned bytes inside the thread's stack mapping, which
        // is readable and stays mapped while the thread runs this code.
        Some(unsafe { (address as *const usize).read_volatile() })
    }

    fn image_bytes<const N: usize>(&self, address: usize) -> Option<[u8; N]> {
        if !self.image.readable(address, N) {
            return None;
        }
        // SAFETY: `N` bytes inside a readable section of the mapped image
        // (checked just above); the image stays mapped while the session
        // that owns it is alive.
        Some(unsafe { (address as *const [u8; N]).read_unaligned() })
    }

    fn image_u32(&self, address: usize) -> Option<u32> {
        self.image_bytes::<4>(address).map(u32::from_le_bytes)
    }
}

/// The stack of the calling thread, `[low, high)`.
pub(crate) fn current_thread_stack() -> Option<(usize, usize)> {
    // SAFETY: `pthread_getattr_np` fills `attr` for the calling thread;
    // `pthread_attr_getstack` reads it into the two out-parameters; the
    // attributes are destroyed after use. All pointers are to locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut address: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut address, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (rc == 0).then(|| (address as usize, address as usize + size))
    }
}

/// One function's unwind data: where it begins, and the chain of
/// `UNWIND_INFO` addresses (the primary first).
struct Function {
    begin: usize,
    infos: Vec<usize>,
}

/// The `RUNTIME_FUNCTION` covering `address`, followed through chained
/// entries.
fn function_at(memory: &Memory<'_>, address: usize) -> Option<Function> {
    let image = memory.image;
    let (dir_rva, dir_size) = image.exception_directory;
    if dir_size < 12 || !image.contains(address) {
        return None;
    }
    let rva = (address - image.base) as u32;
    let table = image.base + dir_rva as usize;
    let entries = dir_size as usize / 12;
    let entry = |i: usize| -> Option<(u32, u32, u32)> {
        let at = table + 12 * i;
        Some((
            memory.image_u32(at)?,
            memory.image_u32(at + 4)?,
            memory.image_u32(at + 8)?,
        ))
    };
    // The table is sorted by begin address.
    let (mut low, mut high) = (0, entries);
    while low < high {
        let mid = (low + high) / 2;
        let (begin, end, _) = entry(mid)?;
        if rva < begin {
            high = mid;
        } else if rva >= end {
            low = mid + 1;
        } else {
            low = mid;
            break;
        }
    }
    let (begin, end, info) = entry(low)?;
    if !(begin..end).contains(&rva) {
        return None;
    }
    let mut infos = vec![image.base + info as usize];
    // Follow UNW_FLAG_CHAININFO: the chained RUNTIME_FUNCTION follows the
    // codes (their count rounded up to even).
    while infos.len() < MAX_CHAIN {
        let info = *infos.last()?;
        let [version_flags, _, count, _] = memory.image_bytes::<4>(info)?;
        if (version_flags >> 3) & UNW_FLAG_CHAININFO == 0 {
            break;
        }
        let chained = info + 4 + 2 * (usize::from(count) + usize::from(count) % 2);
        infos.push(image.base + memory.image_u32(chained + 8)? as usize);
    }
    Some(Function {
        begin: image.base + begin as usize,
        infos,
    })
}

/// Undoes one function's prolog (its unwind codes) on `regs`. `offset` is
/// RIP's offset in the function, `Some` only for the frame whose RIP is
/// exact (it may be inside the prolog); `None` for a frame at a return
/// address (its prolog has run).
fn apply_unwind_info(
    memory: &Memory<'_>,
    info: usize,
    offset: Option<usize>,
    regs: &mut Registers,
) -> Option<MachineFrame> {
    let [version_flags, prolog, count, frame] = memory.image_bytes::<4>(info)?;
    let version = version_flags & 7;
    if version != 1 && version != 2 {
        return None;
    }
    let in_prolog = offset.filter(|&o| o < usize::from(prolog));
    let frame_register = usize::from(frame & 0xF);
    let frame_offset = usize::from(frame >> 4) * 16;
    let count = usize::from(count);
    let slot = |i: usize| -> Option<u16> {
        (i < count)
            .then(|| memory.image_bytes::<2>(info + 4 + 2 * i))
            .flatten()
            .map(u16::from_le_bytes)
    };
    let mut i = 0;
    while i < count {
        let code = slot(i)?;
        let code_offset = usize::from(code as u8);
        let op = (code >> 8) as u8 & 0xF;
        let op_info = usize::from((code >> 12) as u8);
        let size = match (op, version) {
            (0 | 2 | 3 | 10, _) => 1,
            (1, _) if op_info == 0 => 2,
            (1, _) => 3,
            (4 | 8, _) => 2,
            (5 | 9, _) => 3,
            (6, 2) => 1,
            (6, _) => 2,
            (7, _) => 3,
            _ => return None,
        };
        // Codes of prolog instructions that have not run yet are skipped.
        let applies = in_prolog.is_none_or(|o| code_offset <= o) && !(op == 6 && version == 2);
        if applies {
            let rsp = regs.rsp();
            match op {
                0 => {
                    regs.set(op_info, memory.stack_u64(rsp)?);
                    regs.set(RSP, rsp + 8);
                }
                1 => {
                    let bytes = if op_info == 0 {
                        usize::from(slot(i + 1)?) * 8
                    } else {
                        usize::from(slot(i + 1)?) | (usize::from(slot(i + 2)?) << 16)
                    };
                    regs.set(RSP, rsp.checked_add(bytes)?);
                }
                2 => regs.set(RSP, rsp + op_info * 8 + 8),
                3 => {
                    let fp = regs.get(frame_register)?;
                    regs.set(RSP, fp.checked_sub(frame_offset)?);
                }
                4 => {
                    let at = rsp + usize::from(slot(i + 1)?) * 8;
                    regs.set(op_info, memory.stack_u64(at)?);
                }
                5 => {
                    let at = rsp + (usize::from(slot(i + 1)?) | (usize::from(slot(i + 2)?) << 16));
                    regs.set(op_info, memory.stack_u64(at)?);
                }
                // XMM saves: the XMM registers are not tracked.
                6..=9 => {}
                10 => {
                    // The CPU pushed SS, RSP, EFLAGS, CS, RIP (and an error
                    // code when op_info is 1): RSP and RIP come from there
                    // and no return address is popped afterwards.
                    let base = rsp + 8 * op_info;
                    let rip = memory.stack_u64(base)?;
                    let old_rsp = memory.stack_u64(base + 24)?;
                    regs.rip = rip;
                    regs.set(RSP, old_rsp);
                    return Some(MachineFrame::Popped);
                }
                _ => return None,
            }
        }
        i += size;
    }
    Some(MachineFrame::None)
}

/// Whether an unwind code restored RIP itself (`UWOP_PUSH_MACHFRAME`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum MachineFrame {
    None,
    Popped,
}

/// The register a `pop` at `code` restores, and the instruction's length.
fn pop_at(bytes: &[u8]) -> Option<(usize, usize)> {
    match bytes {
        [0x41, b @ 0x58..=0x5F, ..] => Some((usize::from(b - 0x58) + 8, 2)),
        [b @ 0x58..=0x5F, ..] => Some((usize::from(b - 0x58), 1)),
        _ => None,
    }
}

/// If the code at `regs.rip` is an epilog (what remains of one), the
/// registers after it ran: `add rsp, imm` or `lea rsp, [fp + disp]`, then
/// `pop`s, then `ret` or a `jmp` (a tail call).
fn emulate_epilog(memory: &Memory<'_>, regs: &Registers) -> Option<Registers> {
    let code: [u8; 32] = memory.image_bytes(regs.rip)?;
    let mut r = *regs;
    let mut at = 0;
    match code {
        // add rsp, imm8 / imm32
        [0x48, 0x83, 0xC4, imm, ..] => {
            r.set(RSP, r.rsp().checked_add_signed(isize::from(imm as i8))?);
            at = 4;
        }
        [0x48, 0x81, 0xC4, a, b, c, d, ..] => {
            let imm = i32::from_le_bytes([a, b, c, d]) as isize;
            r.set(RSP, r.rsp().checked_add_signed(imm)?);
            at = 7;
        }
        // lea rsp, [reg + disp8 / disp32]; REX.W, REX.B for R8..R15
        [rex @ (0x48 | 0x49), 0x8D, modrm, ..] if modrm & 0x38 == 0x20 && modrm >> 6 != 3 => {
            let base = usize::from(modrm & 7) + if rex == 0x49 { 8 } else { 0 };
            if modrm & 7 == 4 || modrm >> 6 == 0 {
                return None;
            }
            let (disp, len) = if modrm >> 6 == 1 {
                (isize::from(code[3] as i8), 4)
            } else {
                (
                    i32::from_le_bytes([code[3], code[4], code[5], code[6]]) as isize,
                    7,
                )
            };
            r.set(RSP, r.get(base)?.checked_add_signed(disp)?);
            at = len;
        }
        _ => {}
    }
    while let Some((register, len)) = pop_at(&code[at..]) {
        if register == RSP {
            return None;
        }
        let rsp = r.rsp();
        r.set(register, memory.stack_u64(rsp)?);
        r.set(RSP, rsp + 8);
        at += len;
        if at + 2 > code.len() {
            return None;
        }
    }
    match code[at..] {
        // ret, ret imm16; jmp [mem] or jmp reg (with or without REX.W): a
        // tail call through a pointer
        [0xC3, ..] | [0xC2, ..] => {}
        [0xFF, modrm, ..] | [0x48, 0xFF, modrm, ..] if modrm & 0x38 == 0x20 => {}
        // jmp rel32 / rel8 ends an epilog only after its stack adjustment
        // or pops (alone it is an ordinary jump of the function body)
        [0xE9, ..] | [0xEB, ..] if at > 0 => {}
        _ => return None,
    }
    let rsp = r.rsp();
    r.rip = memory.stack_u64(rsp)?;
    r.set(RSP, rsp + 8);
    Some(r)
}

/// The caller's registers, from a frame inside the image. `exact`: RIP is
/// where execution stopped (a fault), not a return address.
fn unwind_one(memory: &Memory<'_>, regs: &Registers, exact: bool) -> Option<Registers> {
    if exact && let Some(r) = emulate_epilog(memory, regs) {
        return Some(r);
    }
    // A return address may lie just past its function (a call to a routine
    // that does not return): look up the call instruction's address.
    let lookup = if exact { regs.rip } else { regs.rip - 1 };
    let mut r = *regs;
    // A function without unwind data is a leaf: nothing pushed, the return
    // address at RSP.
    if let Some(function) = function_at(memory, lookup) {
        let offset = exact.then(|| regs.rip - function.begin);
        for (i, &info) in function.infos.iter().enumerate() {
            // Only the primary info's prolog can be partly run.
            let offset = if i == 0 { offset } else { None };
            if apply_unwind_info(memory, info, offset, &mut r)? == MachineFrame::Popped {
                return Some(r);
            }
        }
    }
    let rsp = r.rsp();
    r.rip = memory.stack_u64(rsp)?;
    r.set(RSP, rsp + 8);
    Some(r)
}

/// The return addresses (and first the exact RIP when `exact`) of the
/// image's frames from `start` up to the first address outside the image.
pub(crate) fn walk(memory: &Memory<'_>, start: Registers, exact: bool) -> Walk {
    let mut frames = Vec::new();
    let mut regs = start;
    let mut exact = exact;
    while frames.len() < MAX_FRAMES {
        if !memory.image.contains(regs.rip) {
            return Walk {
                frames,
                left_at: Some(regs.rip),
            };
        }
        frames.push(Frame {
            address: regs.rip,
            exact,
        });
        let Some(next) = unwind_one(memory, &regs, exact) else {
            break;
        };
        // Each caller's frame lies above its callee's.
        if next.rsp() <= regs.rsp() {
            break;
        }
        regs = next;
        exact = false;
    }
    Walk {
        frames,
        left_at: None,
    }
}

/// A frame of the driver's stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The exact instruction (the fault), or a return address.
    pub address: usize,
    pub exact: bool,
}

/// What [`walk`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Walk {
    pub frames: Vec<Frame>,
    /// The first address outside the image the walk reached (host code,
    /// which called the driver or which the driver called), or `None` if
    /// the walk ended inside the image (unwind data or stack unreadable,
    /// or too many frames).
    pub left_at: Option<usize>,
}

/// Names a frame: the exact address, or a return address named by its call
/// instruction's function.
pub(crate) fn describe_frame(image: &Image, frame: Frame) -> String {
    if frame.exact {
        image.describe(frame.address)
    } else {
        image.describe_return(frame.address)
    }
}

/// The driver's call stack on this thread, frame by frame with symbols,
/// starting from `start` (a fault's registers) or, with `None`, from the
/// driver's current call into the host; across the callbacks the host is
/// running on this thread, to the outermost one.
pub(crate) fn driver_stack(image: &Image, start: Option<Registers>) -> Vec<String> {
    let (mut regs, mut exact) = match start {
        Some(r) => (r, true),
        None => (Registers::at_call(&thread::call_site()), false),
    };
    // Driver code runs on the host's driver stack, or (called from host
    // code directly) on the thread's own.
    let Some(stack) = stack::bounds_of(regs.rsp()).or_else(current_thread_stack) else {
        return vec!["(the thread's stack bounds are unknown: no call stack)".into()];
    };
    let memory = Memory {
        image,
        stack,
        copy: None,
    };
    let mut lines = Vec::new();
    let mut activations = thread::activations();
    let mut n = 0;
    loop {
        let walk = walk(&memory, regs, exact);
        for frame in &walk.frames {
            lines.push(format!("#{n} {}", describe_frame(image, *frame)));
            n += 1;
        }
        if walk.left_at.is_none() && !walk.frames.is_empty() {
            lines.push("   (the stack cannot be unwound further)".into());
            break;
        }
        // The callback these frames belong to.
        let Some(activation) = activations.pop() else {
            break;
        };
        let callback = activation.callback;
        let driver_callback = image.contains(callback.address);
        if !exact && walk.frames.is_empty() && regs.rip != 0 && driver_callback {
            // A call into the host whose return address is the host's: the
            // callback jumped to the import (a tail call) and its frame is
            // gone.
            lines.push(format!(
                "   ({} at {} made its last call by a tail jump: its frame is gone)",
                callback.what,
                image.describe(callback.address)
            ));
        }
        if driver_callback {
            lines.push(if !image.contains(activation.outer.return_address) {
                format!("   ({} called by kmdf-host)", callback.what)
            } else {
                format!(
                    "   ({} called by kmdf-host in the driver's call below)",
                    callback.what
                )
            });
        }
        if activation.outer.return_address == 0 {
            break;
        }
        regs = Registers::at_call(&activation.outer);
        exact = false;
    }
    lines
}

/// The driver's call stack at `deepest`, its deepest call into the host
/// during one entry, from the copy of the stack taken then: one line per
/// frame, innermost first, up to the entry.
pub(crate) fn call_chain(image: &Image, deepest: &DeepestCall) -> Vec<String> {
    let memory = Memory {
        image,
        stack: (deepest.low, deepest.low + deepest.stack.len()),
        copy: Some(&deepest.stack),
    };
    let walk = walk(&memory, Registers::at_call(&deepest.site), false);
    walk.frames
        .iter()
        .map(|frame| describe_frame(image, *frame))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux::loader::image::Section;

    const TEXT: usize = 0x1000;
    const PDATA: usize = 0x2000;
    const XDATA: usize = 0x2100;
    const RBX: usize = 3;
    const RBP: usize = 5;
    const RSI: usize = 6;
    /// A return address outside the image: where the walk ends.
    const OUTSIDE: usize = 0x1234;

    /// An unwind code: the prolog offset, `UWOP_*`, the operation info.
    fn code(offset: u8, op: u8, info: u8) -> u16 {
        u16::from(offset) | (u16::from(op | (info << 4)) << 8)
    }

    /// An `UNWIND_INFO` (version 1): flags, prolog size, frame register and
    /// scaled offset, the codes; a chained `RUNTIME_FUNCTION` after them.
    fn unwind_info(
        flags: u8,
        prolog: u8,
        frame: u8,
        codes: &[u16],
        chained: Option<[u32; 3]>,
    ) -> Vec<u8> {
        let mut out = vec![1 | (flags << 3), prolog, codes.len() as u8, frame];
        for c in codes {
            out.extend(c.to_le_bytes());
        }
        if codes.len() % 2 == 1 {
            out.extend([0, 0]);
        }
        for v in chained.into_iter().flatten() {
            out.extend(v.to_le_bytes());
        }
        out
    }

    /// An image with the test functions:
    /// - A `0x1000..0x1040`: `push rbx; push rbp; sub rsp, 0x28` (prolog
    ///   of 6 bytes), an epilog `add rsp, 0x28; pop rbp; pop rbx; ret` at
    ///   `0x1030`;
    /// - F `0x1100..0x1180`: `push rbp; sub rsp, 0x40; lea rbp, [rsp +
    ///   0x20]` (frame register RBP, offset 0x20);
    /// - G `0x1200..0x1280`: `sub rsp, 0x1000; mov [rsp + 0x30], rsi; movaps
    ///   [rsp + 0x40], xmm6`;
    /// - H `0x1300..0x1340` in two parts: `push rbx; sub rsp, 0x20`, then a
    ///   part whose unwind info only chains to the first;
    /// - no entry for `0x1500` (a leaf).
    fn test_image() -> Image {
        let sections = vec![
            Section {
                name: ".text".into(),
                rva: TEXT as u32,
                size: 0x1000,
                read: true,
                write: false,
                execute: true,
            },
            Section {
                name: ".rdata".into(),
                rva: PDATA as u32,
                size: 0x1000,
                read: true,
                write: false,
                execute: false,
            },
        ];
        let mut xdata = Vec::new();
        let mut add = |info: Vec<u8>| -> u32 {
            let rva = (XDATA + xdata.len()) as u32;
            xdata.extend(info);
            while xdata.len() % 4 != 0 {
                xdata.push(0);
            }
            rva
        };
        let a = add(unwind_info(
            0,
            6,
            0,
            &[code(6, 2, 4), code(2, 0, RBP as u8), code(1, 0, RBX as u8)],
            None,
        ));
        let f = add(unwind_info(
            0,
            10,
            RBP as u8 | (2 << 4),
            &[code(10, 3, 0), code(5, 2, 7), code(1, 0, RBP as u8)],
            None,
        ));
        let g = add(unwind_info(
            0,
            17,
            0,
            &[
                code(17, 8, 6),
                4,
                code(12, 4, RSI as u8),
                6,
                code(7, 1, 0),
                0x1000 / 8,
            ],
            None,
        ));
        let h1 = add(unwind_info(
            0,
            5,
            0,
            &[code(5, 2, 3), code(1, 0, RBX as u8)],
            None,
        ));
        let h2 = add(unwind_info(
            UNW_FLAG_CHAININFO,
            0,
            0,
            &[],
            Some([0x1300, 0x1310, h1]),
        ));
        let pdata: Vec<[u32; 3]> = vec![
            [0x1000, 0x1040, a],
            [0x1100, 0x1180, f],
            [0x1200, 0x1280, g],
            [0x1300, 0x1310, h1],
            [0x1310, 0x1340, h2],
        ];
        let image = Image::for_test(0x3000, sections, (PDATA as u32, 12 * pdata.len() as u32));
        let bytes: Vec<u8> = pdata
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let epilog = [0x48, 0x83, 0xC4, 0x28, 0x5D, 0x5B, 0xC3];
        for (rva, data) in [
            (PDATA, &bytes[..]),
            (XDATA, &xdata[..]),
            (0x1030, &epilog[..]),
        ] {
            // SAFETY: the test image's own read-write mapping, 0x3000 bytes;
            // every range written lies inside it.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    data.as_ptr(),
                    (image.base + rva) as *mut u8,
                    data.len(),
                )
            };
        }
        image
    }

    /// A stack of `words` (the first at the lowest address) and registers
    /// at `rip` with RSP at word `at`.
    fn setup<'a>(
        image: &'a Image,
        stack: &[usize],
        rip: usize,
        at: usize,
    ) -> (Memory<'a>, Registers) {
        let low = stack.as_ptr() as usize;
        let memory = Memory {
            image,
            stack: (low, low + 8 * stack.len()),
            copy: None,
        };
        let mut regs = Registers {
            rip: image.base + rip,
            ..Registers::default()
        };
        regs.set(RSP, low + 8 * at);
        (memory, regs)
    }

    #[test]
    fn push_and_alloc_small_in_the_body_in_the_prolog_and_in_the_epilog() {
        let image = test_image();
        let mut stack = vec![0usize; 8];
        stack[5] = 0xB0;
        stack[6] = 0xB1;
        stack[7] = OUTSIDE;
        for rip in [0x1010, 0x1030] {
            let (memory, regs) = setup(&image, &stack, rip, 0);
            let r = unwind_one(&memory, &regs, true).expect("unwound");
            assert_eq!(r.rip, OUTSIDE, "rip {rip:#x}");
            assert_eq!(r.rsp(), memory.stack.0 + 64);
            assert_eq!((r.get(RBX), r.get(RBP)), (Some(0xB1), Some(0xB0)));
        }
        // In the epilog after `add` and `pop rbp`: only `pop rbx; ret` left.
        let (memory, regs) = setup(&image, &stack, 0x1035, 6);
        let r = unwind_one(&memory, &regs, true).expect("unwound");
        assert_eq!((r.rip, r.get(RBX)), (OUTSIDE, Some(0xB1)));
        // In the prolog after both pushes, before `sub rsp`: the allocation
        // is not undone.
        let (memory, regs) = setup(&image, &stack, 0x1002, 5);
        let r = unwind_one(&memory, &regs, true).expect("unwound");
        assert_eq!((r.rip, r.rsp()), (OUTSIDE, memory.stack.0 + 64));
        // A return address into the body: the whole prolog is undone.
        let (memory, mut regs) = setup(&image, &stack, 0x1011, 0);
        regs.rip = image.base + 0x1011;
        let r = unwind_one(&memory, &regs, false).expect("unwound");
        assert_eq!(r.rip, OUTSIDE);
    }

    #[test]
    fn a_frame_pointer_gives_the_frame_whatever_rsp_is() {
        let image = test_image();
        let mut stack = vec![0usize; 40];
        // The frame after the prolog at word 16; the body lowered RSP to
        // word 0 (an alloca).
        let low = stack.as_ptr() as usize;
        stack[16 + 8] = 0xF0; // saved RBP, above 0x40 bytes of frame
        stack[16 + 9] = OUTSIDE;
        let (memory, mut regs) = setup(&image, &stack, 0x1120, 0);
        regs.set(RBP, low + 8 * 16 + 0x20);
        let r = unwind_one(&memory, &regs, true).expect("unwound");
        assert_eq!((r.rip, r.get(RBP)), (OUTSIDE, Some(0xF0)));
        assert_eq!(r.rsp(), low + 8 * 26);
        // Without a known RBP the frame cannot be found.
        let (memory, regs) = setup(&image, &stack, 0x1120, 0);
        assert_eq!(unwind_one(&memory, &regs, true), None);
    }

    #[test]
    fn alloc_large_save_nonvol_and_xmm_saves() {
        let image = test_image();
        let mut stack = vec![0usize; 0x1000 / 8 + 1];
        stack[0x30 / 8] = 0x5151;
        stack[0x1000 / 8] = OUTSIDE;
        let (memory, regs) = setup(&image, &stack, 0x1240, 0);
        let r = unwind_one(&memory, &regs, true).expect("unwound");
        assert_eq!((r.rip, r.get(RSI)), (OUTSIDE, Some(0x5151)));
        assert_eq!(r.rsp(), memory.stack.1);
        // Inside the prolog after `sub rsp` only: RSI not saved yet.
        let (memory, regs) = setup(&image, &stack, 0x1207, 0);
        let r = unwind_one(&memory, &regs, true).expect("unwound");
        assert_eq!((r.rip, r.get(RSI)), (OUTSIDE, None));
    }

    #[test]
    fn chained_unwind_info_and_leaf_functions() {
        let image = test_image();
        let mut stack = vec![0usize; 6];
        stack[4] = 0xB2;
        stack[5] = OUTSIDE;
        let (memory, regs) = setup(&image, &stack, 0x1320, 0);
        let r = unwind_one(&memory, &regs, true).expect("unwound");
        assert_eq!((r.rip, r.get(RBX)), (OUTSIDE, Some(0xB2)));
        // A leaf: the return address at RSP.
        let (memory, regs) = setup(&image, &stack, 0x1500, 5);
        let r = unwind_one(&memory, &regs, true).expect("unwound");
        assert_eq!((r.rip, r.rsp()), (OUTSIDE, memory.stack.1));
    }

    #[test]
    fn a_walk_goes_from_frame_to_frame_and_stops_at_the_stack_bounds() {
        let image = test_image();
        let mut stack = vec![0usize; 20];
        let low = stack.as_ptr() as usize;
        // A's frame (words 0..8) returns into F's body; F's frame starts at
        // word 8 with RBP = frame + 0x20, saved RBP at word 16, return at 17.
        stack[5] = low + 8 * 8 + 0x20;
        stack[6] = 0xB1;
        stack[7] = image.base + 0x1150;
        stack[16] = 0xF0;
        stack[17] = OUTSIDE;
        let (memory, regs) = setup(&image, &stack, 0x1010, 0);
        let found = walk(&memory, regs, true);
        assert_eq!(
            found.frames,
            [
                Frame {
                    address: image.base + 0x1010,
                    exact: true
                },
                Frame {
                    address: image.base + 0x1150,
                    exact: false
                },
            ]
        );
        assert_eq!(found.left_at, Some(OUTSIDE));
        // A stack that ends before the return address: the walk stops
        // inside the image without reading past it.
        let (memory, regs) = setup(&image, &stack[..7], 0x1010, 0);
        let found = walk(&memory, regs, true);
        assert_eq!(found.frames.len(), 1);
        assert_eq!(found.left_at, None);
    }
}
