//! `GUID` and the compile-time [`guid!`](crate::guid) parser.

use core::fmt;

/// A COM globally unique identifier, laid out as the Windows `GUID` struct.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GUID {
    /// First 32 bits.
    pub data1: u32,
    /// Next 16 bits.
    pub data2: u16,
    /// Next 16 bits.
    pub data3: u16,
    /// Last 64 bits, as bytes.
    pub data4: [u8; 8],
}

impl GUID {
    /// The all-zero GUID (`GUID_NULL`).
    pub const NULL: GUID = GUID::from_u128(0);

    /// Builds a GUID from its fields.
    pub const fn new(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> Self {
        GUID {
            data1,
            data2,
            data3,
            data4,
        }
    }

    /// Builds a GUID from the 128-bit number its canonical text spells
    /// (`0x12345678_1234_5678_90ab_cdef01234567`).
    pub const fn from_u128(v: u128) -> Self {
        let d4 = (v as u64).to_be_bytes();
        GUID {
            data1: (v >> 96) as u32,
            data2: (v >> 80) as u16,
            data3: (v >> 64) as u16,
            data4: d4,
        }
    }

    /// The 128-bit number this GUID's canonical text spells.
    pub const fn to_u128(&self) -> u128 {
        ((self.data1 as u128) << 96)
            | ((self.data2 as u128) << 80)
            | ((self.data3 as u128) << 64)
            | (u64::from_be_bytes(self.data4) as u128)
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (optionally in braces).
    ///
    /// Usable in `const` context; in a `const` (as in [`guid!`](crate::guid))
    /// a malformed string is a compile-time error.
    pub const fn parse(s: &str) -> Result<GUID, GuidParseError> {
        let b = s.as_bytes();
        let (start, len) = if b.len() == 38 && b[0] == b'{' && b[37] == b'}' {
            (1, 36)
        } else {
            (0, b.len())
        };
        if len != 36 {
            return Err(GuidParseError::Length);
        }
        let mut v: u128 = 0;
        let mut i = 0;
        while i < 36 {
            let c = b[start + i];
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != b'-' {
                    return Err(GuidParseError::Dash);
                }
            } else {
                let d = match c {
                    b'0'..=b'9' => c - b'0',
                    b'a'..=b'f' => c - b'a' + 10,
                    b'A'..=b'F' => c - b'A' + 10,
                    _ => return Err(GuidParseError::Digit),
                };
                v = (v << 4) | d as u128;
            }
            i += 1;
        }
        Ok(GUID::from_u128(v))
    }

    /// Like [`parse`](Self::parse) but panics on malformed input, which in a
    /// `const` context is a compile-time error.
    pub const fn parse_or_panic(s: &str) -> GUID {
        match GUID::parse(s) {
            Ok(g) => g,
            Err(GuidParseError::Length) => {
                panic!("malformed GUID: expected 36 characters (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
            }
            Err(GuidParseError::Dash) => {
                panic!("malformed GUID: expected '-' at positions 8, 13, 18 and 23")
            }
            Err(GuidParseError::Digit) => panic!("malformed GUID: expected a hexadecimal digit"),
        }
    }
}

/// Why [`GUID::parse`] refused a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuidParseError {
    /// Not 36 characters (38 with braces).
    Length,
    /// A `-` is missing at position 8, 13, 18 or 23.
    Dash,
    /// A character that is not a hexadecimal digit.
    Digit,
}

impl fmt::Display for GuidParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GuidParseError::Length => "a GUID has 36 characters",
            GuidParseError::Dash => "a GUID has '-' at positions 8, 13, 18 and 23",
            GuidParseError::Digit => "a GUID has only hexadecimal digits between its dashes",
        })
    }
}

impl fmt::Display for GUID {
    /// Canonical form, lower case: `12345678-1234-5678-90ab-cdef01234567`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.data4;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

impl fmt::Debug for GUID {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{self}}}")
    }
}

/// A [`GUID`] from its canonical text, checked at compile time.
///
/// ```
/// const IID_IFOO: kcom::GUID = kcom::guid!("12345678-1234-5678-90ab-cdef01234567");
/// assert_eq!(IID_IFOO.data1, 0x1234_5678);
/// assert_eq!(IID_IFOO.data4, [0x90, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67]);
/// ```
///
/// A malformed string does not compile:
///
/// ```compile_fail
/// const BAD: kcom::GUID = kcom::guid!("12345678-1234-5678-90ab-cdef0123456");
/// ```
#[macro_export]
macro_rules! guid {
    ($s:literal) => {{
        const __KCOM_GUID: $crate::GUID = $crate::GUID::parse_or_panic($s);
        __KCOM_GUID
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::std_alloc::format;

    #[test]
    fn parse_and_display_round_trip() {
        let g = GUID::parse("{12345678-1234-5678-90AB-cdef01234567}").unwrap();
        assert_eq!(
            g,
            GUID::new(
                0x1234_5678,
                0x1234,
                0x5678,
                [0x90, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67]
            )
        );
        assert_eq!(format!("{g}"), "12345678-1234-5678-90ab-cdef01234567");
        assert_eq!(GUID::from_u128(g.to_u128()), g);
    }

    #[test]
    fn parse_rejects_malformed() {
        assert_eq!(GUID::parse(""), Err(GuidParseError::Length));
        assert_eq!(
            GUID::parse("12345678x1234-5678-90ab-cdef01234567"),
            Err(GuidParseError::Dash)
        );
        assert_eq!(
            GUID::parse("1234567g-1234-5678-90ab-cdef01234567"),
            Err(GuidParseError::Digit)
        );
    }

    #[test]
    fn guid_macro_in_const() {
        const G: GUID = crate::guid!("00000000-0000-0000-c000-000000000046");
        assert_eq!(G.data4[0], 0xC0);
        assert_eq!(G.data4[7], 0x46);
    }
}
