//! The transport: the one thing that differs between the backends.
//!
//! Everything above it (request encoding, response decoding, validation,
//! output) is shared, so the loopback exercises exactly the code that talks
//! to the real driver.

use std::fmt;

use kcom::NTSTATUS;

/// Sends IOCTLs to a kcom sample device.
pub trait Transport {
    /// Sends IOCTL `code` with the request bytes `input`, lets the device
    /// write its reply into `output`, and returns the number of bytes it
    /// wrote (the request's information value).
    fn ioctl(&self, code: u32, input: &[u8], output: &mut [u8]) -> Result<usize, TransportError>;

    /// A short description of where requests go, for humans.
    fn describe(&self) -> String;

    /// Ends the session with the device and says what the backend found
    /// on the way out. Nothing for the device and the loopback; the image
    /// backend removes the device, unloads the driver and returns the
    /// host's report.
    fn close(self: Box<Self>) -> Option<Closing> {
        None
    }
}

/// What a backend found when its session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closing {
    /// Whether it found nothing wrong.
    pub clean: bool,
    /// What it found, for humans (one or more lines).
    pub report: String,
}

/// A boxed transport is one: the backend is chosen at run time
/// (`cli::backend::open`).
impl<T: Transport + ?Sized> Transport for Box<T> {
    fn ioctl(&self, code: u32, input: &[u8], output: &mut [u8]) -> Result<usize, TransportError> {
        (**self).ioctl(code, input, output)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }

    fn close(self: Box<Self>) -> Option<Closing> {
        T::close(*self)
    }
}

/// Why an IOCTL did not complete successfully.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// The device completed the request with this failure status.
    Status(NTSTATUS),
    /// The request did not reach the device, or the OS reported an error
    /// that is not one of the protocol's statuses.
    Os {
        /// The OS error code (Win32 error on Windows).
        code: u32,
        /// What went wrong, in one line.
        message: String,
    },
    /// The backend could not carry the request (the image backend: the
    /// simulated system refused it or the driver never completed it).
    Backend(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Status(status) => write!(f, "{}", Status(*status)),
            TransportError::Os { code, message } => write!(f, "{message} (OS error {code})"),
            TransportError::Backend(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for TransportError {}

/// Displays an `NTSTATUS` as `NAME (0xC000009A)`, or just the value when
/// the name is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub NTSTATUS);

impl Status {
    /// The symbolic name, if kcom knows it.
    pub fn name(self) -> Option<&'static str> {
        kcom::status_name(self.0)
    }

    /// The value as Windows tools print it (`0xC000009A`).
    pub fn hex(self) -> String {
        format!("0x{:08X}", self.0 as u32)
    }

    /// The name, or the hex value when there is none.
    pub fn label(self) -> String {
        match self.name() {
            Some(name) => name.to_owned(),
            None => self.hex(),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.hex()),
            None => write!(f, "NTSTATUS {}", self.hex()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcom::{STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};

    #[test]
    fn statuses_print_with_name_and_value() {
        assert_eq!(
            Status(STATUS_INSUFFICIENT_RESOURCES).to_string(),
            "STATUS_INSUFFICIENT_RESOURCES (0xC000009A)"
        );
        assert_eq!(
            Status(STATUS_SUCCESS).to_string(),
            "STATUS_SUCCESS (0x00000000)"
        );
        assert_eq!(Status(0x1234_5678).to_string(), "NTSTATUS 0x12345678");
        assert_eq!(Status(0x1234_5678).label(), "0x12345678");
        assert_eq!(
            TransportError::Os {
                code: 5,
                message: "access denied".into()
            }
            .to_string(),
            "access denied (OS error 5)"
        );
    }
}
