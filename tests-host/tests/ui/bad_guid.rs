const IID: kcom::GUID = kcom::guid!("12345678-1234-5678-90ab-cdef0123456z");

fn main() {
    let _ = IID;
}
