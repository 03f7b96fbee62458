// kcom's README example: a thread-safe interface whose method returns a
// value through an out pointer, and its implementation.
use kcom::{declare_com_interface, implement_com, ComClass, GUID, IUnknown, NTSTATUS};

declare_com_interface! {
    /// A counter, usable from any thread.
    pub trait ICounter: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("b1f1a0d2-0d5e-4c51-8f37-2f0d8e6a7c11");
        /// The current value.
        fn get(&self) -> Result<u32, NTSTATUS>;
    }
}

struct Counter(u32);

impl ICounter for Counter {
    fn get(&self) -> Result<u32, NTSTATUS> {
        Ok(self.0)
    }
}

implement_com!(Counter: ICounter);
