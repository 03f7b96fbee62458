//! `DbgPrint` and `DbgPrintEx`: variadic, so each has a small entry thunk
//! that spills the register arguments into the caller's home space; the
//! arguments then form one array of 8-byte slots, which is what the
//! Microsoft x64 convention guarantees for variadic calls.

use std::ffi::{CStr, c_char};

use super::super::abi::UnicodeString;
use super::super::context;

#[unsafe(naked)]
pub(crate) unsafe extern "win64" fn DbgPrint() {
    core::arch::naked_asm!(
        "mov [rsp + 8], rcx",
        "mov [rsp + 16], rdx",
        "mov [rsp + 24], r8",
        "mov [rsp + 32], r9",
        "lea rdx, [rsp + 16]",
        "sub rsp, 40",
        "call {imp}",
        "add rsp, 40",
        "ret",
        imp = sym dbg_print,
    )
}

#[unsafe(naked)]
pub(crate) unsafe extern "win64" fn DbgPrintEx() {
    core::arch::naked_asm!(
        "mov [rsp + 8], rcx",
        "mov [rsp + 16], rdx",
        "mov [rsp + 24], r8",
        "mov [rsp + 32], r9",
        "lea r9, [rsp + 32]",
        "sub rsp, 40",
        "call {imp}",
        "add rsp, 40",
        "ret",
        imp = sym dbg_print_ex,
    )
}

/// Reads variadic argument slots.
struct Args {
    next: *const u64,
}

impl Args {
    fn next(&mut self) -> u64 {
        // SAFETY: the thunk points `next` at the caller's argument slots;
        // the format string says how many there are (a driver that passes
        // fewer reads its own stack frame, as on Windows).
        let v = unsafe { self.next.read_unaligned() };
        // SAFETY: moves to the next slot of the same array.
        self.next = unsafe { self.next.add(1) };
        v
    }
}

unsafe extern "win64" fn dbg_print(format: *const c_char, args: *const u64) -> i32 {
    if format.is_null() {
        return 0;
    }
    // SAFETY: the driver passes a NUL-terminated format string.
    let format = unsafe { CStr::from_ptr(format) }.to_bytes();
    let text = format_ms(format, &mut Args { next: args });
    if let Some(session) = context::try_session() {
        session.debug_print(text);
    }
    0
}

unsafe extern "win64" fn dbg_print_ex(
    _component: u32,
    _level: u32,
    format: *const c_char,
    args: *const u64,
) -> i32 {
    // SAFETY: same contract as DbgPrint.
    unsafe { dbg_print(format, args) }
}

/// A UTF-16 string of `units` code units at `p`.
fn utf16(p: *const u16, units: usize) -> String {
    if p.is_null() {
        return "(null)".into();
    }
    // SAFETY: the driver passes a string of at least `units` code units.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, units) })
}

/// A NUL-terminated UTF-16 string at `p`, at most `max` units.
fn wide_cstr(p: *const u16, max: Option<usize>) -> String {
    if p.is_null() {
        return "(null)".into();
    }
    let mut n = 0;
    // SAFETY: the driver passes a NUL-terminated wide string.
    while max.is_none_or(|m| n < m) && unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    utf16(p, n)
}

/// The text of a `UNICODE_STRING`.
pub(crate) fn unicode_string(s: *const UnicodeString) -> String {
    if s.is_null() {
        return "(null)".into();
    }
    // SAFETY: the driver passes a UNICODE_STRING.
    let s = unsafe { &*s };
    utf16(s.buffer, usize::from(s.length) / 2)
}

/// The Microsoft `printf` subset drivers use: flags, width, precision
/// (`*` too), the `h l ll I I32 I64 z j t w` size prefixes and
/// `d i u x X o c C s S p Z %` conversions (`%wZ`, `%ws`, `%ls`).
fn format_ms(f: &[u8], args: &mut Args) -> String {
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
                out += &pad(wide_cstr(p, precision));
            }
            b's' => {
                let p = args.next() as usize as *const c_char;
                let s = if p.is_null() {
                    "(null)".to_string()
                } else {
                    // SAFETY: the driver passes a NUL-terminated string.
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
                    unicode_string(p as *const UnicodeString)
                } else if p == 0 {
                    "(null)".to_string()
                } else {
                    // ANSI_STRING has UNICODE_STRING's layout.
                    // SAFETY: the driver passes an ANSI_STRING.
                    let a = unsafe { &*(p as *const UnicodeString) };
                    // SAFETY: `Length` bytes at `Buffer`.
                    let bytes = unsafe {
                        std::slice::from_raw_parts(a.buffer.cast::<u8>(), usize::from(a.length))
                    };
                    String::from_utf8_lossy(bytes).into_owned()
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

    fn fmt(f: &str, slots: &[u64]) -> String {
        format_ms(
            f.as_bytes(),
            &mut Args {
                next: slots.as_ptr(),
            },
        )
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
