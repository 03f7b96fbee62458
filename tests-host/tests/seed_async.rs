//! The kcom README's async example, as the seed shows it: the interface is
//! declared with only `declare_com_interface` and the status types imported
//! (`IUnknown` and `GUID` are named bare, without an import), then
//! implemented both ways the README shows. The README leaves the IID as
//! `/* ... */`; here it is a literal `GUID` (no import needed either).

mod declared {
    // ---- README code begins ----
    use kcom::{NTSTATUS, declare_com_interface};

    declare_com_interface! {
        pub trait IMyDriver: IUnknown {
            const IID: GUID = GUID {
                data1: 0x9a7c_1e52,
                data2: 0x3b1d,
                data3: 0x4f0a,
                data4: [0x8c, 0x2e, 0x6d, 0x5b, 0x4a, 0x39, 0x28, 0x17],
            };

            async fn init(&self) -> NTSTATUS;
        }
    }
    // ---- README code ends ----
}

mod by_hand {
    use super::declared::IMyDriver;
    use kcom::{NTSTATUS, STATUS_SUCCESS};

    pub struct MyDriver;

    // ---- README code begins ----
    use core::future::Future;
    use core::pin::Pin;

    impl IMyDriver for MyDriver {
        fn init(&self) -> Pin<Box<dyn Future<Output = NTSTATUS> + Send + '_>> {
            Box::pin(async move { STATUS_SUCCESS })
        }
    }
    // ---- README code ends ----
}

mod with_sugar {
    use super::declared::IMyDriver;
    use kcom::{NTSTATUS, STATUS_SUCCESS};

    pub struct MyDriver;

    // ---- README code begins ----
    use kcom::async_impl;

    #[async_impl]
    impl IMyDriver for MyDriver {
        async fn init(&self) -> NTSTATUS {
            STATUS_SUCCESS
        }
    }
    // ---- README code ends ----
}

use declared::IMyDriverInterface;
use kcom::{ComClass, ComInterfaceInfo, GUID, STATUS_SUCCESS, implement_com};

implement_com!(by_hand::MyDriver: declared::IMyDriver);
implement_com!(with_sugar::MyDriver: declared::IMyDriver);

#[test]
fn the_seed_async_example_declares_and_runs() {
    assert_eq!(
        <IMyDriverInterface as ComInterfaceInfo>::IID,
        kcom::guid!("9a7c1e52-3b1d-4f0a-8c2e-6d5b4a392817")
    );
    let a = by_hand::MyDriver::try_create(by_hand::MyDriver).unwrap();
    assert_eq!(a.init(), STATUS_SUCCESS);
    let b = with_sugar::MyDriver::try_create(with_sugar::MyDriver).unwrap();
    assert_eq!(b.init(), STATUS_SUCCESS);
    // The bare `IUnknown` parent is kcom's: QueryInterface answers for it.
    let unknown = b.query_interface::<kcom::IUnknownInterface>().unwrap();
    assert!(unknown.same_object(&b));
    let _: GUID = <kcom::IUnknownInterface as ComInterfaceInfo>::IID;
}
