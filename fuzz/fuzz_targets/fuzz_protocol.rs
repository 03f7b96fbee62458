//! The protocol decoders and helpers on arbitrary bytes: every decoder of
//! `kcom_sample_core::protocol` (requests and responses, as the driver and
//! the user-mode client run them), `RunRequest::validate`,
//! `dispatch::decode_request`, the fixed-string helpers, the IOCTL code
//! helpers and `GUID::parse`.
//!
//! Properties: nothing panics; a decoded message re-encodes to the same
//! bytes (reserved fields as zero); `validate` accepts exactly the values
//! the documented limits allow, names the first rule a refused request
//! breaks, and its result keeps the values; decoded views
//! never read past their buffer.
//!
//! # Input format
//!
//! ```text
//! u8   selector: which decoder (see `match` below)
//! u32  an IOCTL code / extra integer
//! u16  an output length
//! ...  the rest: the message bytes
//! ```
#![no_main]

use kcom::{GUID, STATUS_INVALID_PARAMETER};
use kcom_fuzz::Input;
use kcom_sample_core::decode_request;
use kcom_sample_core::dispatch::Request;
use kcom_sample_core::protocol::{
    self, DEFAULT_ALIGN, InfoRequest, InfoResponse, Ioctl, MAX_ALIGN, MAX_ALLOC_SIZE,
    MAX_ITERATIONS, MAX_POOL_ENTRIES, MAX_STRATEGIES, MAX_TOTAL_BYTES, PoolStatsRequest,
    PoolStatsResponse, RunRequest, RunRequestError, RunResponse, StrategyId, StrategyInfo,
};
use libfuzzer_sys::fuzz_target;

/// `bytes` cut or zero-padded to exactly `n` bytes, with a valid header,
/// so the decoders get past the length check most of the time.
fn framed(bytes: &[u8], n: usize, fix_header: bool) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v.resize(n, 0);
    if fix_header && n >= 8 {
        v[..4].copy_from_slice(&protocol::PROTOCOL_VERSION.to_le_bytes());
        v[4..8].copy_from_slice(&(n as u32).to_le_bytes());
    }
    v
}

fn check_run_request(buf: &[u8]) {
    let Ok(req) = RunRequest::decode(buf) else {
        return;
    };
    let mut out = [0u8; RunRequest::SIZE];
    assert_eq!(req.encode(&mut out), Ok(RunRequest::SIZE));
    assert_eq!(&out[..], buf, "RunRequest does not round-trip");
    let (strategy, flags, iterations) = (req.strategy.get(), req.flags.get(), req.iterations.get());
    let (min, max, align) = (req.min_size.get(), req.max_size.get(), req.align.get());
    let total = u64::from(iterations) * u64::from(max);
    // The documented rules, in the documented order: the first one broken
    // is the one `validate` must name.
    let sizes = 1..=MAX_ALLOC_SIZE;
    let broken = if StrategyId::from_u32(strategy).is_none() {
        Some(RunRequestError::UnknownStrategy(strategy))
    } else if flags != 0 {
        Some(RunRequestError::FlagsSet(flags))
    } else if !(1..=MAX_ITERATIONS).contains(&iterations) {
        Some(RunRequestError::Iterations(iterations))
    } else if !sizes.contains(&min) {
        Some(RunRequestError::MinSize(min))
    } else if !sizes.contains(&max) {
        Some(RunRequestError::MaxSize(max))
    } else if min > max {
        Some(RunRequestError::MinAboveMax {
            min_size: min,
            max_size: max,
        })
    } else if align != 0 && !(align.is_power_of_two() && align <= MAX_ALIGN) {
        Some(RunRequestError::Align(align))
    } else if total > MAX_TOTAL_BYTES {
        Some(RunRequestError::TotalBytes(total))
    } else {
        None
    };
    match req.validate() {
        Ok(p) => {
            assert_eq!(broken, None, "validate accepted {req:?}");
            assert_eq!(p.strategy.as_u32(), strategy);
            assert_eq!(
                (p.iterations, p.min_size, p.max_size, p.seed),
                (iterations, min, max, req.seed.get())
            );
            let align = if align == 0 { DEFAULT_ALIGN } else { align };
            assert_eq!(p.align, align);
            assert!(
                core::alloc::Layout::from_size_align(p.max_size as usize, p.align as usize).is_ok()
            );
            assert_eq!(p.to_request().validate(), Ok(p));
        }
        Err(e) => {
            assert_eq!(Some(e), broken, "validate refused {req:?}");
            assert_eq!(e.status(), STATUS_INVALID_PARAMETER);
        }
    }
}

fn check_info_response(buf: &[u8]) {
    let Ok(view) = InfoResponse::decode(buf) else {
        return;
    };
    let count = view.header.strategy_count.get() as usize;
    assert!(count <= MAX_STRATEGIES);
    assert_eq!(view.strategies().count(), count);
    assert!(view.strategy(count).is_none());
    let slots: Vec<StrategyInfo> = view.strategies().collect();
    for s in &slots {
        let _ = (s.name_str(), s.description_str(), s.strategy());
        if let Some(id) = s.strategy() {
            assert!(view.find(id).is_some());
        }
    }
    // Re-encoding the listed slots gives the same slots back, and zero
    // beyond them.
    let mut out = vec![0xEEu8; InfoResponse::SIZE];
    assert_eq!(
        InfoResponse::encode(slots.iter().copied(), &mut out),
        Ok(InfoResponse::SIZE)
    );
    let again = InfoResponse::decode(&out).expect("re-encoded GET_INFO decodes");
    assert!(again.unused_slots_are_zero());
    assert_eq!(again.strategies().collect::<Vec<_>>(), slots);
    assert_eq!(
        &out[InfoResponse::HEADER_SIZE..InfoResponse::HEADER_SIZE + count * StrategyInfo::SIZE],
        &buf[InfoResponse::HEADER_SIZE..InfoResponse::HEADER_SIZE + count * StrategyInfo::SIZE]
    );
    assert_eq!(
        view.unused_slots_are_zero(),
        buf[InfoResponse::HEADER_SIZE + count * StrategyInfo::SIZE..]
            .iter()
            .all(|&b| b == 0)
    );
}

fn check_pool_stats_response(buf: &[u8]) {
    let Ok(stats) = PoolStatsResponse::decode(buf) else {
        return;
    };
    let count = stats.entry_count.get() as usize;
    assert!(count <= MAX_POOL_ENTRIES);
    assert_eq!(stats.entries().len(), count);
    for e in stats.entries() {
        assert!(stats.find(e.pool_type.get(), e.tag.get()).is_some());
    }
    let mut out = vec![0xEEu8; PoolStatsResponse::SIZE];
    assert_eq!(stats.encode(&mut out), Ok(PoolStatsResponse::SIZE));
    // `reserved` (bytes 12..16) is written as zero; everything else as read.
    let mut expected = buf.to_vec();
    expected[12..16].fill(0);
    assert_eq!(out, expected, "POOL_STATS does not round-trip");
}

fn check_run_response(buf: &[u8]) {
    let Ok(r) = RunResponse::decode(buf) else {
        return;
    };
    let mut out = [0u8; RunResponse::SIZE];
    assert_eq!(r.encode(&mut out), Ok(RunResponse::SIZE));
    assert_eq!(&out[..], buf, "RUN response does not round-trip");
}

fn check_header_only(buf: &[u8]) {
    let a = InfoRequest::decode(buf);
    let b = PoolStatsRequest::decode(buf);
    assert_eq!(a.is_ok(), b.is_ok());
    if a.is_ok() {
        let mut out = [0u8; 8];
        assert_eq!(InfoRequest::new().encode(&mut out), Ok(8));
        assert_eq!(&out[..], buf);
    }
}

fn check_decode_request(code: u32, input: &[u8], output_len: usize) {
    match decode_request(code, input, output_len) {
        Ok(req) => {
            let ioctl = Ioctl::from_code(code).expect("accepted code is an IOCTL");
            assert_eq!(req.ioctl(), ioctl);
            assert_eq!(ioctl.code(), code);
            assert_eq!(input.len(), ioctl.request_size());
            assert!(output_len >= ioctl.response_size());
            if let Request::RunExercise(p) = req {
                let decoded = RunRequest::decode(input).expect("accepted RUN decodes");
                assert_eq!(decoded.validate(), Ok(p));
            }
        }
        Err(e) => {
            assert!(!kcom::nt_success(e));
            if Ioctl::from_code(code).is_none() {
                assert_eq!(e, kcom::STATUS_INVALID_DEVICE_REQUEST);
            }
        }
    }
}

fn check_strings(bytes: &[u8]) {
    let _ = protocol::str_from_fixed(bytes);
    let text = String::from_utf8_lossy(bytes);
    let fixed: [u8; protocol::NAME_LEN] = protocol::fixed_str(&text);
    assert_eq!(fixed[protocol::NAME_LEN - 1], 0, "no terminating NUL");
    let back = protocol::str_from_fixed(&fixed).expect("fixed_str keeps UTF-8");
    assert!(
        text.starts_with(back),
        "{back:?} is not a prefix of {text:?}"
    );
    if let Some(s) = StrategyId::from_name(&text) {
        assert_eq!(s.name(), text);
    }
    if let Ok(g) = GUID::parse(&text) {
        let shown = format!("{g}");
        assert_eq!(
            GUID::parse(&shown),
            Ok(g),
            "GUID {text:?} shown as {shown:?}"
        );
        assert_eq!(GUID::from_u128(g.to_u128()), g);
    }
}

fn check_ioctl_helpers(code: u32) {
    let rebuilt = protocol::ctl_code(
        protocol::ioctl_device_type(code),
        protocol::ioctl_function(code),
        protocol::ioctl_method(code),
        protocol::ioctl_access(code),
    );
    assert_eq!(rebuilt, code);
    if let Some(s) = StrategyId::from_u32(code) {
        assert_eq!(s.as_u32(), code);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let selector = inp.u8();
    let code = inp.u32();
    let output_len = usize::from(inp.u16());
    let rest = inp.rest();
    let fix = selector & 0x80 != 0;
    match selector % 8 {
        0 => check_run_request(&framed(rest, RunRequest::SIZE, fix)),
        1 => check_info_response(&framed(rest, InfoResponse::SIZE, fix)),
        2 => check_pool_stats_response(&framed(rest, PoolStatsResponse::SIZE, fix)),
        3 => check_run_response(&framed(rest, RunResponse::SIZE, fix)),
        4 => check_header_only(rest),
        5 => {
            let code = if fix {
                protocol::ALL_IOCTLS[code as usize % 3]
            } else {
                code
            };
            check_decode_request(code, rest, output_len);
        }
        6 => check_strings(rest),
        _ => check_ioctl_helpers(code),
    }
    // Every decoder on the raw bytes, unframed, must not panic either.
    let _ = RunRequest::decode(rest).map(|r| r.validate());
    let _ = InfoResponse::decode(rest).map(|v| v.strategies().count());
    let _ = PoolStatsResponse::decode(rest);
    let _ = RunResponse::decode(rest);
    let _ = InfoRequest::decode(rest);
    let _ = PoolStatsRequest::decode(rest);
});
