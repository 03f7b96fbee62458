use kcom::{declare_com_interface, GUID, IUnknown, NTSTATUS};
use kcom::{ComClass, ComRc};

declare_com_interface! {
    /// Not declared Send + Sync.
    pub trait IFoo: IUnknown {
        const IID: GUID = kcom::guid!("00000001-0000-0000-0000-000000000001");
        fn get(&self) -> NTSTATUS;
    }
}

struct Foo;
impl IFoo for Foo {
    fn get(&self) -> NTSTATUS {
        kcom::STATUS_SUCCESS
    }
}
kcom::implement_com!(Foo: IFoo);

fn main() {
    let rc: ComRc<IFooInterface> = Foo::try_create(Foo).unwrap();
    std::thread::spawn(move || drop(rc));
}
