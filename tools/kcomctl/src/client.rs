//! The typed client: encodes requests, sends them through a [`Transport`]
//! and decodes and checks the replies. Shared by every backend.

use std::fmt;

use kcom::NTSTATUS;
use kcom_sample_core::protocol::{
    ExerciseReport, IOCTL_KCOM_GET_INFO, IOCTL_KCOM_POOL_STATS, IOCTL_KCOM_RUN_EXERCISE,
    InfoRequest, InfoResponse, PoolStatsEntry, PoolStatsRequest, PoolStatsResponse, RunRequest,
    RunResponse, STRATEGY_FLAG_PASSIVE_ONLY, StrategyId,
};

use crate::transport::{Status, Transport, TransportError};

/// One strategy the device offers (a `GET_INFO` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedStrategy {
    /// Wire value of the strategy.
    pub id: u32,
    /// Its name (`"free-list"`); `#<id>` if the device sent no valid UTF-8.
    pub name: String,
    /// One line for humans.
    pub description: String,
    /// `STRATEGY_FLAG_*` bits.
    pub flags: u32,
    /// Pool type its memory comes from.
    pub pool_type: u32,
    /// Pool tag of its memory.
    pub tag: u32,
}

impl OfferedStrategy {
    /// The strategy, if this client knows its wire value.
    pub fn strategy(&self) -> Option<StrategyId> {
        StrategyId::from_u32(self.id)
    }

    /// Whether the exercise runs only at `PASSIVE_LEVEL`.
    pub fn passive_only(&self) -> bool {
        self.flags & STRATEGY_FLAG_PASSIVE_ONLY != 0
    }
}

/// The decoded `GET_INFO` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Protocol version the device speaks.
    pub version: u32,
    /// Most iterations per run the device accepts.
    pub max_iterations: u32,
    /// Largest block size the device accepts.
    pub max_alloc_size: u32,
    /// Largest alignment the device accepts.
    pub max_align: u32,
    /// Most blocks an exercise keeps alive at once.
    pub max_live_blocks: u32,
    /// Cap on `iterations * max_size`.
    pub max_total_bytes: u64,
    /// The registered strategies, in the device's order.
    pub strategies: Vec<OfferedStrategy>,
}

impl DeviceInfo {
    /// The offered strategy called `name`.
    pub fn find(&self, name: &str) -> Option<&OfferedStrategy> {
        self.strategies.iter().find(|s| s.name == name)
    }

    /// The names of the offered strategies, comma separated.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.strategies.iter().map(|s| s.name.as_str()).collect();
        names.join(", ")
    }
}

/// What went wrong with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The device completed the request with this failure status.
    Status(NTSTATUS),
    /// The request did not reach the device.
    Os {
        /// OS error code.
        code: u32,
        /// One-line description.
        message: String,
    },
    /// The reply could not be decoded or does not fit the request.
    BadReply(String),
    /// The backend could not carry the request.
    Backend(String),
}

/// A failed request: which IOCTL, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientError {
    /// `GET_INFO`, `RUN_EXERCISE` or `POOL_STATS`.
    pub ioctl: &'static str,
    /// The cause.
    pub kind: ErrorKind,
}

impl ClientError {
    /// The device's status, if the device answered with one.
    pub fn status(&self) -> Option<NTSTATUS> {
        match self.kind {
            ErrorKind::Status(s) => Some(s),
            _ => None,
        }
    }

    fn bad_reply(ioctl: &'static str, detail: impl Into<String>) -> Self {
        ClientError {
            ioctl,
            kind: ErrorKind::BadReply(detail.into()),
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Status(s) => write!(f, "{}: the driver answered {}", self.ioctl, Status(*s)),
            ErrorKind::Os { message, .. } | ErrorKind::Backend(message) => {
                write!(f, "{}: {message}", self.ioctl)
            }
            ErrorKind::BadReply(detail) => {
                write!(
                    f,
                    "{}: malformed reply from the driver: {detail}",
                    self.ioctl
                )
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// Sends one request and checks that the reply has exactly `reply_size`
/// bytes.
fn call<T: Transport + ?Sized>(
    transport: &T,
    ioctl: &'static str,
    code: u32,
    request: &[u8],
    reply: &mut [u8],
) -> Result<(), ClientError> {
    let written = transport
        .ioctl(code, request, reply)
        .map_err(|e| ClientError {
            ioctl,
            kind: match e {
                TransportError::Status(s) => ErrorKind::Status(s),
                TransportError::Os { code, message } => ErrorKind::Os { code, message },
                TransportError::Backend(message) => ErrorKind::Backend(message),
            },
        })?;
    if written != reply.len() {
        return Err(ClientError::bad_reply(
            ioctl,
            format!("{written} bytes instead of {}", reply.len()),
        ));
    }
    Ok(())
}

/// Encodes a request with its own `encode` into a fresh buffer.
fn encode<const N: usize>(
    ioctl: &'static str,
    f: impl FnOnce(&mut [u8]) -> Result<usize, NTSTATUS>,
) -> Result<[u8; N], ClientError> {
    let mut buf = [0u8; N];
    match f(&mut buf) {
        Ok(n) if n == N => Ok(buf),
        Ok(n) => Err(ClientError::bad_reply(
            ioctl,
            format!("request encoded to {n} bytes instead of {N}"),
        )),
        Err(s) => Err(ClientError::bad_reply(
            ioctl,
            format!("request could not be encoded: {}", Status(s)),
        )),
    }
}

fn decode_failed(ioctl: &'static str, status: NTSTATUS) -> ClientError {
    ClientError::bad_reply(ioctl, format!("decoding failed with {}", Status(status)))
}

/// A kcom sample device reached through `T`.
#[derive(Debug)]
pub struct Client<T> {
    transport: T,
}

impl<T: Transport> Client<T> {
    /// A client sending its requests through `transport`.
    pub fn new(transport: T) -> Self {
        Client { transport }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, giving up the client.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// `GET_INFO`: protocol version, limits and the registered strategies.
    pub fn info(&self) -> Result<DeviceInfo, ClientError> {
        const IOCTL: &str = "GET_INFO";
        let request = encode::<{ InfoRequest::SIZE }>(IOCTL, |b| InfoRequest::new().encode(b))?;
        let mut reply = vec![0u8; InfoResponse::SIZE];
        call(
            &self.transport,
            IOCTL,
            IOCTL_KCOM_GET_INFO,
            &request,
            &mut reply,
        )?;
        let view = InfoResponse::decode(&reply).map_err(|s| decode_failed(IOCTL, s))?;
        let strategies = view
            .strategies()
            .map(|s| OfferedStrategy {
                id: s.id.get(),
                name: s
                    .name_str()
                    .map_or_else(|| format!("#{}", s.id.get()), str::to_owned),
                description: s.description_str().unwrap_or("").to_owned(),
                flags: s.flags.get(),
                pool_type: s.pool_type.get(),
                tag: s.tag.get(),
            })
            .collect();
        let h = view.header;
        Ok(DeviceInfo {
            version: h.header.version.get(),
            max_iterations: h.max_iterations.get(),
            max_alloc_size: h.max_alloc_size.get(),
            max_align: h.max_align.get(),
            max_live_blocks: h.max_live_blocks.get(),
            max_total_bytes: h.max_total_bytes.get(),
            strategies,
        })
    }

    /// `RUN_EXERCISE`: runs one exercise and returns its report.
    ///
    /// A device failure (for example `STATUS_INSUFFICIENT_RESOURCES` when
    /// the pool refuses an allocation) is an `Err` carrying the status.
    pub fn run(&self, request: &RunRequest) -> Result<ExerciseReport, ClientError> {
        const IOCTL: &str = "RUN_EXERCISE";
        let bytes = encode::<{ RunRequest::SIZE }>(IOCTL, |b| request.encode(b))?;
        let mut reply = [0u8; RunResponse::SIZE];
        call(
            &self.transport,
            IOCTL,
            IOCTL_KCOM_RUN_EXERCISE,
            &bytes,
            &mut reply,
        )?;
        let report = RunResponse::decode(&reply)
            .map_err(|s| decode_failed(IOCTL, s))?
            .report;
        if report.strategy != request.strategy {
            return Err(ClientError::bad_reply(
                IOCTL,
                format!(
                    "report for strategy {} instead of {}",
                    report.strategy, request.strategy
                ),
            ));
        }
        Ok(report)
    }

    /// `POOL_STATS`: the device's pool accounting.
    pub fn pool_stats(&self) -> Result<Vec<PoolStatsEntry>, ClientError> {
        const IOCTL: &str = "POOL_STATS";
        let request =
            encode::<{ PoolStatsRequest::SIZE }>(IOCTL, |b| PoolStatsRequest::new().encode(b))?;
        let mut reply = vec![0u8; PoolStatsResponse::SIZE];
        call(
            &self.transport,
            IOCTL,
            IOCTL_KCOM_POOL_STATS,
            &request,
            &mut reply,
        )?;
        let stats = PoolStatsResponse::decode(&reply).map_err(|s| decode_failed(IOCTL, s))?;
        Ok(stats.entries().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::diagnosis;
    use crate::loopback::Loopback;
    use kcom::{STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED, STATUS_SUCCESS};
    use std::cell::Cell;
    use windows_sys::Win32::Devices::DeviceAndDriverInstallation::{
        CM_PROB_FAILED_START, DN_HAS_PROBLEM,
    };
    use windows_sys::Win32::Foundation::{
        ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, GENERIC_READ, GENERIC_WRITE,
    };

    /// The scripted answer to one IOCTL code.
    type Answer = Box<dyn Fn(u32) -> Result<Vec<u8>, TransportError>>;

    /// A transport with a scripted answer per IOCTL code, counting its
    /// calls.
    struct Scripted {
        answer: Answer,
        calls: Cell<usize>,
    }

    impl Transport for Scripted {
        fn ioctl(&self, code: u32, _: &[u8], out: &mut [u8]) -> Result<usize, TransportError> {
            self.calls.set(self.calls.get() + 1);
            let bytes = (self.answer)(code)?;
            let n = bytes.len().min(out.len());
            out[..n].copy_from_slice(&bytes[..n]);
            Ok(n)
        }
        fn describe(&self) -> String {
            "scripted".into()
        }
    }

    /// A client whose transport answers every IOCTL with `answer`.
    fn scripted(answer: Result<Vec<u8>, TransportError>) -> Client<Scripted> {
        scripted_by(move |_| answer.clone())
    }

    /// A client whose transport answers IOCTL `code` with `answer(code)`.
    fn scripted_by(
        answer: impl Fn(u32) -> Result<Vec<u8>, TransportError> + 'static,
    ) -> Client<Scripted> {
        Client::new(Scripted {
            answer: Box::new(answer),
            calls: Cell::new(0),
        })
    }

    #[test]
    fn loopback_round_trip_of_every_ioctl() {
        let client = Client::new(Loopback::new().unwrap());
        let info = client.info().unwrap();
        assert_eq!(
            info.max_iterations,
            kcom_sample_core::protocol::MAX_ITERATIONS
        );
        let global = info.find("global").expect("global is always offered");
        assert_eq!(global.strategy(), Some(StrategyId::Global));
        assert!(!global.description.is_empty());

        let req = RunRequest::new(StrategyId::Global, 20, 1, 256, 7);
        let report = client.run(&req).unwrap();
        assert_eq!(report.ntstatus, STATUS_SUCCESS);
        assert_eq!((report.allocations.get(), report.frees.get()), (20, 20));
        assert_eq!(report.outstanding, 0);
        assert_eq!(
            report.checksum,
            kcom_sample_core::expected_strategy_checksum(&req.validate().unwrap())
        );

        let stats = client.pool_stats().unwrap();
        let g = stats
            .iter()
            .find(|e| e.tag == global.tag && e.pool_type == global.pool_type)
            .expect("ledger entry of global");
        assert!(g.allocations >= 20);
    }

    #[test]
    fn device_errors_carry_the_status() {
        let client = Client::new(Loopback::new().unwrap());
        // Bypass the command line's checks: the driver itself refuses.
        let bad = RunRequest::new(StrategyId::Global, 0, 1, 1, 0);
        let err = client.run(&bad).unwrap_err();
        assert_eq!(err.status(), Some(STATUS_INVALID_PARAMETER));
        assert_eq!(
            err.to_string(),
            "RUN_EXERCISE: the driver answered STATUS_INVALID_PARAMETER (0xC000000D)"
        );

        let client = scripted(Err(TransportError::Status(STATUS_NOT_SUPPORTED)));
        let err = client.info().unwrap_err();
        assert_eq!(err.status(), Some(STATUS_NOT_SUPPORTED));
        assert!(
            err.to_string()
                .contains("STATUS_NOT_SUPPORTED (0xC00000BB)")
        );
    }

    #[test]
    fn malformed_replies_are_rejected() {
        // Too short.
        let client = scripted(Ok(vec![0u8; 10]));
        let err = client.pool_stats().unwrap_err();
        assert!(matches!(err.kind, ErrorKind::BadReply(_)), "{err:?}");
        assert_eq!(client.transport().calls.get(), 1);
        // Right length and size field, wrong version.
        let mut reply = vec![0u8; RunResponse::SIZE];
        reply[..4].copy_from_slice(&99u32.to_le_bytes());
        reply[4..8].copy_from_slice(&(RunResponse::SIZE as u32).to_le_bytes());
        let client = scripted(Ok(reply));
        let err = client
            .run(&RunRequest::new(StrategyId::Global, 1, 1, 1, 0))
            .unwrap_err();
        assert!(
            err.to_string().contains("STATUS_REVISION_MISMATCH"),
            "{err}"
        );
        // A report for another strategy than requested.
        let mut reply = [0u8; RunResponse::SIZE];
        RunResponse::new(ExerciseReport {
            strategy: StrategyId::Bump.as_u32().into(),
            ..ExerciseReport::default()
        })
        .encode(&mut reply)
        .unwrap();
        let client = scripted(Ok(reply.to_vec()));
        let err = client
            .run(&RunRequest::new(StrategyId::Global, 1, 1, 1, 0))
            .unwrap_err();
        assert!(err.to_string().contains("report for strategy 4"), "{err}");
        // OS errors pass through.
        let client = scripted(Err(TransportError::Os {
            code: 5,
            message: "access denied".into(),
        }));
        assert_eq!(
            client.info().unwrap_err().to_string(),
            "GET_INFO: access denied"
        );
    }

    /// The device backend's answer to `ERROR_ACCESS_DENIED` on an open
    /// handle, scripted per IOCTL as the I/O manager checks it: the
    /// IOCTL's `CTL_CODE` rights against a handle opened with `access`,
    /// and a driver that refuses the rest with `STATUS_ACCESS_DENIED`.
    fn denied_for_a_handle_opened_with(access: u32) -> Client<Scripted> {
        scripted_by(move |code| {
            Err(TransportError::Os {
                code: ERROR_ACCESS_DENIED,
                message: diagnosis::access_denied(code, access, None),
            })
        })
    }

    #[test]
    fn access_denied_on_an_open_handle_names_the_rights_not_the_account() {
        let read_only = denied_for_a_handle_opened_with(GENERIC_READ);
        let err = read_only
            .run(&RunRequest::new(StrategyId::Global, 1, 1, 1, 0))
            .unwrap_err();
        assert_eq!(err.ioctl, "RUN_EXERCISE");
        assert_eq!(
            err.to_string(),
            "RUN_EXERCISE: access denied by the I/O manager: IOCTL 0x8C0EE004 requires \
             FILE_READ_DATA | FILE_WRITE_DATA, and the handle (opened with GENERIC_READ) lacks \
             FILE_WRITE_DATA; the handle's access is at fault, not the account's"
        );
        // GET_INFO needs only FILE_READ_DATA, which that handle has: the
        // refusal is the driver's.
        let err = read_only.info().unwrap_err().to_string();
        assert!(
            err.starts_with("GET_INFO: access denied, although the handle (opened with GENERIC_READ) has what IOCTL 0x8C0E6000 requires FILE_READ_DATA: "),
            "{err}"
        );
        let read_write = denied_for_a_handle_opened_with(GENERIC_READ | GENERIC_WRITE);
        for err in [
            read_write.pool_stats().unwrap_err().to_string(),
            read_write
                .run(&RunRequest::new(StrategyId::Bump, 1, 1, 1, 0))
                .unwrap_err()
                .to_string(),
        ] {
            assert!(err.contains("STATUS_ACCESS_DENIED (0xC0000022)"), "{err}");
            assert!(!err.contains("run as Administrator"), "{err}");
        }
        assert_eq!(read_write.transport().calls.get(), 2);
    }

    #[test]
    fn a_missing_interface_reads_as_installed_or_not() {
        // What `kcomctl` prints when the device backend finds no
        // interface: the transport error, whole.
        let not_installed = TransportError::Os {
            code: ERROR_FILE_NOT_FOUND,
            message: diagnosis::no_interface(&[]),
        };
        assert!(
            not_installed
                .to_string()
                .starts_with("driver not installed: no device has hardware ID "),
            "{not_installed}"
        );
        let not_started = TransportError::Os {
            code: ERROR_FILE_NOT_FOUND,
            message: diagnosis::no_interface(&[diagnosis::DevNode {
                instance_id: r"ROOT\SOFTWAREDEVICE\0000".into(),
                status: DN_HAS_PROBLEM,
                problem: CM_PROB_FAILED_START,
                problem_status: None,
            }]),
        };
        assert_eq!(
            not_started.to_string(),
            format!(
                "no enabled kcom sample device interface: device ROOT\\SOFTWAREDEVICE\\0000 \
                 installed but not started, problem CM_PROB_FAILED_START (10); see `devcon \
                 status {}` (OS error 2)",
                diagnosis::HARDWARE_ID
            )
        );
    }
}
