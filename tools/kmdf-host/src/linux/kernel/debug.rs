//! `DbgPrint` and `DbgPrintEx`: variadic; their thunks spill the register
//! arguments into the caller's home space, so the arguments form one array
//! of 8-byte slots, which is what the Microsoft x64 convention guarantees
//! for variadic calls.

use std::ffi::{CStr, c_char};

use crate::linux::abi::UnicodeString;
use crate::linux::cpu::thread::{self, caller_thunk};
use crate::linux::kernel::session::Session;

/// `DbgPrint(Format, ...)`: the thunk spills the register arguments to the
/// caller's home space, so the arguments after the format are the slots
/// from the second on.
///
/// # Safety
///
/// Only for driver code calling `DbgPrint` (through its thunk) with the
/// contract of `dbg_print`.
unsafe extern "win64" fn dbg_print_body(format: *const c_char) -> i32 {
    let args = (thread::call_site().rsp + 8) as *const u64;
    // SAFETY: `args` points at the caller's argument slots after the
    // format (its home space, filled by the thunk, then its stack
    // arguments); the rest is this function's contract.
    unsafe { dbg_print(format, args) }
}
caller_thunk!(dbg_print_entry => dbg_print_body);

/// `DbgPrintEx(ComponentId, Level, Format, ...)`, as [`dbg_print_body`].
///
/// # Safety
///
/// Only for driver code calling `DbgPrintEx` (through its thunk) with the
/// contract of `dbg_print_ex`.
unsafe extern "win64" fn dbg_print_ex_body(
    component: u32,
    level: u32,
    format: *const c_char,
) -> i32 {
    let args = (thread::call_site().rsp + 24) as *const u64;
    // SAFETY: as for `dbg_print_body`, the slots after the format.
    unsafe { dbg_print_ex(component, level, format, args) }
}
caller_thunk!(dbg_print_ex_entry => dbg_print_ex_body);

/// Reads variadic argument slots, one after the other.
struct Args {
    next: *const u64,
}

impl Args {
    /// Argument slots from `first` on.
    ///
    /// # Safety
    ///
    /// `first` points at an array of 8-byte slots that stays readable while
    /// the value lives, with a slot for every [`Args::next`] call made.
    unsafe fn new(first: *const u64) -> Args {
        Args { next: first }
    }

    /// The next slot.
    fn next(&mut self) -> u64 {
        // SAFETY: `new`'s contract: a readable slot for every call.
        let v = unsafe { self.next.read_unaligned() };
        self.next = self.next.wrapping_add(1);
        v
    }
}

/// The body of `DbgPrint`: formats and records the line.
///
/// # Safety
///
/// `format` is NULL or a NUL-terminated string; `args` points at the
/// caller's argument slots, one for each argument the format consumes,
/// and each pointer argument fits its conversion (see `format_ms`).
unsafe extern "win64" fn dbg_print(format: *const c_char, args: *const u64) -> i32 {
    if format.is_null() {
        return 0;
    }
    // SAFETY: a NUL-terminated format string (this function's contract).
    let format = unsafe { CStr::from_ptr(format) }.to_bytes();
    // SAFETY: the thunk points `args` at the caller's argument slots (its
    // home space, then its stack arguments), one per argument the format
    // consumes, and each pointer argument fits its conversion: the
    // `DbgPrint` contract, which this function's caller gives. (A driver
    // that passes fewer arguments reads its own frame, as on Windows.)
    let text = unsafe { format_ms(format, &mut Args::new(args)) };
    if let Some(session) = Session::try_current() {
        session.debug_print(text);
    }
    0
}

/// The body of `DbgPrintEx` (the component and level are not filtered).
///
/// # Safety
///
/// As for `dbg_print`.
unsafe extern "win64" fn dbg_print_ex(
    _component: u32,
    _level: u32,
    format: *const c_char,
    args: *const u64,
) -> i32 {
    // SAFETY: `dbg_print`'s contract is this function's.
    unsafe { dbg_print(format, args) }
}

/// A UTF-16 string of `units` code units at `p`.
///
/// # Safety
///
/// `p` is NULL or points at `units` readable, aligned code units.
unsafe fn utf16(p: *const u16, units: usize) -> String {
    if p.is_null() {
        return "(null)".into();
    }
    // SAFETY: non-NULL, so `units` readable aligned code units (the
    // caller's contract), not changed while read.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, units) })
}

/// A NUL-terminated UTF-16 string at `p`, at most `max` units.
///
/// # Safety
///
/// `p` is NULL or points at aligned code units that are readable up to the
/// terminating NUL or the `max`th unit, whichever comes first.
unsafe fn wide_cstr(p: *const u16, max: Option<usize>) -> String {
    if p.is_null() {
        return "(null)".into();
    }
    let mut n = 0;
    // SAFETY: unit `n` is readable: it comes before the NUL and below
    // `max` (the loop stops at either), as the caller's contract says.
    while max.is_none_or(|m| n < m) && unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    // SAFETY: the `n` units just read.
    unsafe { utf16(p, n) }
}

/// The text of a `UNICODE_STRING`.
///
/// # Safety
///
/// `s` is NULL or points at a readable `UNICODE_STRING` whose `Buffer` is
/// NULL or holds `Length` readable bytes.
pub(crate) unsafe fn unicode_string(s: *const UnicodeString) -> String {
    if s.is_null() {
        return "(null)".into();
    }
    // SAFETY: non-NULL, so a readable UNICODE_STRING (the caller's contract).
    let s = unsafe { &*s };
    // SAFETY: `Buffer` is NULL or holds `Length` bytes (the caller's
    // contract); a UNICODE_STRING's buffer is WCHAR-aligned.
    unsafe { utf16(s.buffer, usize::from(s.length) / 2) }
}

/// The Microsoft `printf` subset drivers use: flags, width, precision
/// (`*` too), the `h l ll I I32 I64 z j t w` size prefixes and
/// `d i u x X o c C s S p Z %` conversions (`%wZ`, `%ws`, `%ls`).
///
/// # Safety
///
/// Each pointer argument is NULL or points at what its conversion reads: a
/// NUL-terminated string (`%s`), a NUL-terminated UTF-16 string (`%S`,
/// `%ws`, `%ls`; up to the precision if one is given), a `UNICODE_STRING`
/// (`%wZ`) or an `ANSI_STRING` (`%Z`) with a valid buffer.
unsafe fn format_ms(f: &[u8], args: &mut Args) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < f.len() {
        if f[i] != b'%' {
            let start = i;
            while i < f.len() && f[i] != b'%' {
                i += 1;
            }
            out.push_str(&String::from_utf8_lossy(&f[start..i]));
            continue;
        }
        i += 1;
        let mut flags = String::new();
        while i < f.len() && b"-+ #0".contains(&f[i]) {
            flags.push(f[i] as char);
            i += 1;
        }
        let mut width = 0usize;
        if i < f.len() && f[i] == b'*' {
            width = args.next() as u32 as usize;
            i += 1;
        }
        while i < f.len() && f[i].is_ascii_digit() {
            width = width * 10 + usize::from(f[i] - b'0');
            i += 1;
        }
        let mut precision: Option<usize> = None;
        if i < f.len() && f[i] == b'.' {
            i += 1;
            let mut p = 0;
            if i < f.len() && f[i] == b'*' {
                p = args.next() as u32 as usize;
                i += 1;
            }
            while i < f.len() && f[i].is_ascii_digit() {
                p = p * 10 + usize::from(f[i] - b'0');
                i += 1;
            }
            precision = Some(p);
        }
        let mut bits = 32;
        let mut wide = false;
        while i < f.len() {
            match f[i] {
                b'h' => {
                    bits = 16;
                    i += 1;
                }
                b'l' if f.get(i + 1) == Some(&b'l') => {
                    bits = 64;
                    i += 2;
                }
                b'l' | b'w' => {
                    wide = true;
                    i += 1;
                }
                b'z' | b'j' | b't' => {
                    bits = 64;
                    i += 1;
                }
                b'I' if f[i..].starts_with(b"I64") => {
                    bits = 64;
                    i += 3;
                }
                b'I' if f[i..].starts_with(b"I32") => {
                    bits = 32;
                    i += 3;
                }
                b'I' => {
                    bits = 64;
                    i += 1;
                }
                _ => break,
            }
        }
        let Some(&conv) = f.get(i) else { break };
        i += 1;
        let left = flags.contains('-');
        let zero = flags.contains('0') && !left;
        let pad = |s: String| -> String {
            if s.chars().count() >= width {
                s
            } else if left {
                format!("{s:<width$}")
            } else if zero {
                let (sign, digits) = if let Some(d) = s.strip_prefix('-') {
                    ("-", d)
                } else {
                    ("", s.as_str())
                };
                format!("{sign}{digits:0>w$}", w = width - sign.len())
            } else {
                format!("{s:>width$}")
            }
        };
        let mask = |v: u64| match bits {
            64 => v,
            16 => v & 0xFFFF,
            _ => v & 0xFFFF_FFFF,
        };
        match conv {
            b'%' => out.push('%'),
            b'd' | b'i' => {
                let v = mask(args.next());
                let v = match bits {
                    64 => v as i64,
                    16 => i64::from(v as u16 as i16),
                    _ => i64::from(v as u32 as i32),
                };
                let s = if flags.contains('+') && v >= 0 {
                    format!("+{v}")
                } else {
                    v.to_string()
                };
                out += &pad(s);
            }
            b'u' => out += &pad(mask(args.next()).to_string()),
            b'x' | b'X' => {
                let v = mask(args.next());
                let mut s = if conv == b'x' {
                    format!("{v:x}")
                } else {
                    format!("{v:X}")
                };
                if let Some(p) = precision {
                    s = format!("{s:0>p$}");
                }
                if flags.contains('#') && v != 0 {
                    s = format!("0{}{s}", conv as char);
                }
                out += &pad(s);
            }
            b'o' => out += &pad(format!("{:o}", mask(args.next()))),
            b'p' => out += &pad(format!("{:016X}", args.next())),
            b'c' | b'C' => out.push(char::from_u32(args.next() as u32 & 0xFFFF).unwrap_or('?')),
            b's' | b'S' if wide || conv == b'S' => {
                let p = args.next() as usize as *const u16;
                // SAFETY: NULL or a wide string (this function's contract).
                out += &pad(unsafe { wide_cstr(p, precision) });
            }
            b's' => {
                let p = args.next() as usize as *const c_char;
                let s = if p.is_null() {
                    "(null)".to_string()
                } else {
                    // SAFETY: non-NULL, so a NUL-terminated string (this
                    // function's contract).
                    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                };
                let s: String = match precision {
                    Some(m) => s.chars().take(m).collect(),
                    None => s,
                };
                out += &pad(s);
            }
            b'Z' => {
                let p = args.next() as usize;
                let s = if wide {
                    // SAFETY: NULL or a UNICODE_STRING (this function's
                    // contract).
                    unsafe { unicode_string(p as *const UnicodeString) }
                } else if p == 0 {
                    "(null)".to_string()
                } else {
                    // ANSI_STRING has UNICODE_STRING's layout.
                    // SAFETY: non-NULL, so a readable ANSI_STRING (this
                    // function's contract).
                    let a = unsafe { &*(p as *const UnicodeString) };
                    if a.buffer.is_null() {
                        "(null)".to_string()
                    } else {
                        // SAFETY: a non-NULL `Buffer` holds `Length` bytes
                        // (this function's contract).
                        let bytes = unsafe {
                            std::slice::from_raw_parts(a.buffer.cast::<u8>(), usize::from(a.length))
                        };
                        String::from_utf8_lossy(bytes).into_owned()
                    }
                };
                out += &pad(s);
            }
            other => {
                out.push('%');
                out.push(other as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formats `f` with `slots`; every format below consumes exactly its
    /// slots, and its pointer slots point at live strings of the right kind.
    fn fmt(f: &str, slots: &[u64]) -> String {
        // SAFETY: as the tests below are written: a slot per argument, each
        // pointer a live string the conversion reads (see the doc above).
        unsafe { format_ms(f.as_bytes(), &mut Args::new(slots.as_ptr())) }
    }

    #[test]
    fn formats_like_the_kernel_printf() {
        let wide: Vec<u16> = "wide".encode_utf16().chain([0]).collect();
        let s = c"abc";
        assert_eq!(
            fmt(
                "%s %d %#x %ws %I64u %c %08X %-4d| %5s|%%",
                &[
                    s.as_ptr() as u64,
                    (-5i32) as u32 as u64,
                    0xbeef,
                    wide.as_ptr() as u64,
                    1 << 40,
                    u64::from(b'Z'),
                    0x1234,
                    7,
                    s.as_ptr() as u64,
                ]
            ),
            "abc -5 0xbeef wide 1099511627776 Z 00001234 7   |   abc|%"
        );
        let us = UnicodeString {
            length: 6,
            maximum_length: 8,
            buffer: wide.as_ptr(),
        };
        assert_eq!(fmt("[%wZ]", &[&raw const us as u64]), "[wid]");
        assert_eq!(fmt("%.2s|%s", &[s.as_ptr() as u64, 0]), "ab|(null)");
        assert_eq!(fmt("%hd %lld", &[0xFFFF, u64::MAX]), "-1 -1");
    }
}
