//! Synthetic x64 PE images for the tests, written with
//! `object::write::pe::Writer`.

use object::pe;
use object::write::pe::{NtHeaders, Writer};

/// What to put in a synthetic x64 image.
#[derive(Clone)]
pub struct Spec {
    pub subsystem: u16,
    pub dll_characteristics: u16,
    pub file_characteristics: u16,
    pub text_characteristics: u32,
    /// Offset of the entry point in `.text`; `None` for no entry point.
    pub entry: Option<u32>,
    pub imports: Vec<(&'static str, Vec<&'static str>)>,
    pub delay_imports: Vec<(&'static str, Vec<&'static str>)>,
    pub relocations: bool,
}

impl Spec {
    /// What a KMDF driver linked as wdk-build links it looks like.
    pub fn driver() -> Self {
        Self {
            subsystem: pe::IMAGE_SUBSYSTEM_NATIVE,
            dll_characteristics: pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT
                | pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE
                | pe::IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA,
            file_characteristics: pe::IMAGE_FILE_EXECUTABLE_IMAGE
                | pe::IMAGE_FILE_LARGE_ADDRESS_AWARE
                | pe::IMAGE_FILE_DLL,
            text_characteristics: pe::IMAGE_SCN_CNT_CODE
                | pe::IMAGE_SCN_MEM_EXECUTE
                | pe::IMAGE_SCN_MEM_READ,
            entry: Some(0x40),
            imports: vec![
                ("ntoskrnl.exe", vec!["ExAllocatePool2", "ExFreePoolWithTag"]),
                ("HAL.dll", vec!["KeQueryPerformanceCounter"]),
                ("WdfLdr.sys", vec!["WdfVersionBind", "WdfVersionUnbind"]),
            ],
            delay_imports: Vec::new(),
            relocations: true,
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let mut data = Vec::new();
        let mut w = Writer::new(true, 0x1000, 0x200, &mut data);
        w.reserve_dos_header_and_stub();
        w.reserve_nt_headers(pe::IMAGE_NUMBEROF_DIRECTORY_ENTRIES);
        let sections = 2 + u16::from(self.relocations);
        w.reserve_section_headers(sections);
        let text = w.reserve_section(*b".text\0\0\0", self.text_characteristics, 0x100, 0x100);
        // The import tables' size does not depend on where they are.
        let probe = import_tables(0, &self.imports, &self.delay_imports);
        let idata = w.reserve_section(
            *b".idata\0\0",
            pe::IMAGE_SCN_CNT_INITIALIZED_DATA | pe::IMAGE_SCN_MEM_READ,
            probe.bytes.len() as u32,
            probe.bytes.len() as u32,
        );
        let tables = import_tables(idata.virtual_address, &self.imports, &self.delay_imports);
        if let Some((rva, size)) = tables.imports {
            w.set_data_directory(pe::IMAGE_DIRECTORY_ENTRY_IMPORT, rva, size);
        }
        if let Some((rva, size)) = tables.delay_imports {
            w.set_data_directory(pe::IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT, rva, size);
        }
        if self.relocations {
            w.add_reloc(text.virtual_address + 0x80, pe::IMAGE_REL_BASED_DIR64);
            w.reserve_reloc_section();
        }
        w.write_dos_header_and_stub().unwrap();
        w.write_nt_headers(NtHeaders {
            machine: pe::IMAGE_FILE_MACHINE_AMD64,
            time_date_stamp: 0,
            characteristics: self.file_characteristics,
            major_linker_version: 14,
            minor_linker_version: 0,
            address_of_entry_point: self.entry.map_or(0, |e| text.virtual_address + e),
            image_base: 0x1_4000_0000,
            major_operating_system_version: 10,
            minor_operating_system_version: 0,
            major_image_version: 0,
            minor_image_version: 0,
            major_subsystem_version: 10,
            minor_subsystem_version: 0,
            subsystem: self.subsystem,
            dll_characteristics: self.dll_characteristics,
            size_of_stack_reserve: 0x4_0000,
            size_of_stack_commit: 0x1000,
            size_of_heap_reserve: 0,
            size_of_heap_commit: 0,
        });
        w.write_section_headers();
        w.write_section(text.file_offset, &[0xcc; 0x100]);
        w.write_section(idata.file_offset, &tables.bytes);
        if self.relocations {
            w.write_reloc_section();
        }
        data
    }
}

/// The bytes of an import section at `base`, and where its directories are.
struct ImportTables {
    bytes: Vec<u8>,
    imports: Option<(u32, u32)>,
    delay_imports: Option<(u32, u32)>,
}

fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn put_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// Lays out import descriptors (20 bytes each, zero-terminated) and delay
/// descriptors (32 bytes each), then per module a name table and an address
/// table of 8-byte thunks (zero-terminated), then hint/name entries and
/// module names.
fn import_tables(
    base: u32,
    imports: &[(&str, Vec<&str>)],
    delay_imports: &[(&str, Vec<&str>)],
) -> ImportTables {
    let import_dir = 0usize;
    let import_dir_len = if imports.is_empty() {
        0
    } else {
        (imports.len() + 1) * 20
    };
    let delay_dir = import_dir + import_dir_len;
    let delay_dir_len = if delay_imports.is_empty() {
        0
    } else {
        (delay_imports.len() + 1) * 32
    };
    let mut bytes = vec![0u8; delay_dir + delay_dir_len];
    let rva = |offset: usize| base + offset as u32;
    let place = |bytes: &mut Vec<u8>, module: &str, routines: &[&str]| -> (usize, usize, usize) {
        let names = bytes.len();
        bytes.resize(names + (routines.len() + 1) * 8, 0);
        let addresses = bytes.len();
        bytes.resize(addresses + (routines.len() + 1) * 8, 0);
        for (i, routine) in routines.iter().enumerate() {
            let hint_name = bytes.len();
            bytes.extend_from_slice(&0u16.to_le_bytes());
            bytes.extend_from_slice(routine.as_bytes());
            bytes.push(0);
            if bytes.len() % 2 == 1 {
                bytes.push(0);
            }
            put_u64(bytes, names + i * 8, u64::from(rva(hint_name)));
            put_u64(bytes, addresses + i * 8, u64::from(rva(hint_name)));
        }
        let name = bytes.len();
        bytes.extend_from_slice(module.as_bytes());
        bytes.push(0);
        (names, addresses, name)
    };
    for (i, (module, routines)) in imports.iter().enumerate() {
        let (names, addresses, name) = place(&mut bytes, module, routines);
        let d = import_dir + i * 20;
        put_u32(&mut bytes, d, rva(names));
        put_u32(&mut bytes, d + 12, rva(name));
        put_u32(&mut bytes, d + 16, rva(addresses));
    }
    for (i, (module, routines)) in delay_imports.iter().enumerate() {
        let (names, addresses, name) = place(&mut bytes, module, routines);
        let d = delay_dir + i * 32;
        put_u32(&mut bytes, d, 1); // RVA-based
        put_u32(&mut bytes, d + 4, rva(name));
        put_u32(&mut bytes, d + 12, rva(addresses));
        put_u32(&mut bytes, d + 16, rva(names));
    }
    ImportTables {
        bytes,
        imports: (import_dir_len != 0).then(|| (rva(import_dir), import_dir_len as u32)),
        delay_imports: (delay_dir_len != 0).then(|| (rva(delay_dir), delay_dir_len as u32)),
    }
}
