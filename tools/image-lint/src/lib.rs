//! Checks a Windows kernel driver image (a PE file such as `kcom_sample.sys`)
//! the way a driver reviewer would, before anything tries to load it.
//!
//! [`lint`] reads the image with the `object` crate and reports every rule it
//! breaks ([`Finding`]) together with what it found ([`Report`]): the import
//! list, the entry point and the sections. The rules:
//!
//! * x64 (`IMAGE_FILE_MACHINE_AMD64`, PE32+) and the native subsystem
//!   (`/SUBSYSTEM:NATIVE`): what the kernel loader accepts for a driver.
//! * The entry point lies in an executable section; with the linker map
//!   ([`LinkerMap`]), it is `FxDriverEntry` (KMDF's stub, which binds the
//!   framework before it calls `DriverEntry`) and `DriverEntry` is defined.
//!   An image whose entry point is `DriverEntry` itself never binds KMDF.
//! * Imports only from kernel modules ([`KERNEL_MODULES`]: `ntoskrnl.exe`,
//!   `HAL.dll`, `WdfLdr.sys`). A user-mode import (`kernel32.dll`, the
//!   `vcruntime` or `ucrt` runtime) cannot be resolved in the kernel, and the
//!   driver would fail to load. Delay-loaded imports fail the same way.
//! * No section both writable and executable.
//! * NX-compatible (`IMAGE_DLLCHARACTERISTICS_NX_COMPAT`).
//! * Relocatable: `IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE`, relocations not
//!   stripped, and a non-empty base relocation directory (the kernel loads
//!   drivers at any address).

use std::fmt;

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};

/// The modules a kernel driver may import from (compared without regard to
/// case, as the loader does).
pub const KERNEL_MODULES: &[&str] = &["ntoskrnl.exe", "HAL.dll", "WdfLdr.sys"];

/// The entry point a KMDF driver's image must have.
pub const KMDF_ENTRY_POINT: &str = "FxDriverEntry";

/// The driver's own entry routine, which `FxDriverEntry` calls.
pub const DRIVER_ENTRY: &str = "DriverEntry";

/// A module the image imports from, and the routines it imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedModule {
    /// The module name as the image spells it.
    pub module: String,
    /// Routine names, or `#N` for an import by ordinal, in table order.
    pub routines: Vec<String>,
    /// Delay-loaded (resolved on first call) rather than at load time.
    pub delay_loaded: bool,
}

/// A section of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The section name (`.text`, `.data`, …).
    pub name: String,
    /// Its `IMAGE_SCN_*` characteristics.
    pub characteristics: u32,
}

impl Section {
    /// May be read.
    pub fn readable(&self) -> bool {
        self.characteristics & pe::IMAGE_SCN_MEM_READ != 0
    }

    /// Holds code the processor may execute.
    pub fn executable(&self) -> bool {
        self.characteristics & pe::IMAGE_SCN_MEM_EXECUTE != 0
    }

    /// May be written at run time.
    pub fn writable(&self) -> bool {
        self.characteristics & pe::IMAGE_SCN_MEM_WRITE != 0
    }
}

/// A rule the image breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The subsystem is not `IMAGE_SUBSYSTEM_NATIVE`.
    NotNativeSubsystem {
        /// The `IMAGE_SUBSYSTEM_*` value found.
        subsystem: u16,
    },
    /// The image has no entry point, or one outside every executable section.
    EntryPointNotInCode {
        /// The entry point's relative virtual address.
        rva: u32,
    },
    /// The linker map names another routine at the entry point.
    EntryPointNotFxDriverEntry {
        /// The map's symbol at the entry point, if it has one.
        found: Option<String>,
    },
    /// The linker map defines no `DriverEntry`.
    NoDriverEntry,
    /// An import from a module that is not a kernel module.
    ForbiddenImport {
        /// The module.
        module: String,
        /// What the image imports from it.
        routines: Vec<String>,
    },
    /// A delay-loaded import (the kernel has no delay-load helper).
    DelayLoadedImport {
        /// The module.
        module: String,
    },
    /// A section both writable and executable.
    WritableExecutableSection {
        /// The section name.
        name: String,
    },
    /// `IMAGE_DLLCHARACTERISTICS_NX_COMPAT` is not set.
    NotNxCompatible,
    /// `IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE` is not set.
    NotDynamicBase,
    /// `IMAGE_FILE_RELOCS_STRIPPED` is set.
    RelocationsStripped,
    /// The base relocation directory is missing or empty.
    NoBaseRelocations,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotNativeSubsystem { subsystem } => write!(
                f,
                "subsystem {subsystem} is not native (1): link with /SUBSYSTEM:NATIVE"
            ),
            Self::EntryPointNotInCode { rva } => {
                write!(f, "entry point {rva:#x} is not in an executable section")
            }
            Self::EntryPointNotFxDriverEntry { found } => write!(
                f,
                "entry point is {}, not {KMDF_ENTRY_POINT}: KMDF would never be bound \
                 (link with /ENTRY:{KMDF_ENTRY_POINT} and WdfDriverEntry.lib)",
                found.as_deref().unwrap_or("an unnamed address")
            ),
            Self::NoDriverEntry => write!(f, "no {DRIVER_ENTRY} routine in the image"),
            Self::ForbiddenImport { module, routines } => write!(
                f,
                "imports from {module} ({}), which is not a kernel module ({})",
                routines.join(", "),
                KERNEL_MODULES.join(", ")
            ),
            Self::DelayLoadedImport { module } => {
                write!(
                    f,
                    "delay-loaded import from {module}: the kernel cannot resolve it"
                )
            }
            Self::WritableExecutableSection { name } => {
                write!(f, "section {name} is both writable and executable")
            }
            Self::NotNxCompatible => write!(f, "not NX-compatible: link with /NXCOMPAT"),
            Self::NotDynamicBase => {
                write!(
                    f,
                    "not relocatable (no dynamic base): link with /DYNAMICBASE"
                )
            }
            Self::RelocationsStripped => write!(f, "relocations stripped (/FIXED)"),
            Self::NoBaseRelocations => write!(f, "no base relocations"),
        }
    }
}

/// Why an image could not be read at all.
#[derive(Debug)]
pub struct ReadError(String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

impl From<object::Error> for ReadError {
    fn from(e: object::Error) -> Self {
        Self(format!("not a readable x64 PE image: {e}"))
    }
}

/// What [`lint`] found in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `IMAGE_SUBSYSTEM_*` of the optional header.
    pub subsystem: u16,
    /// `IMAGE_DLLCHARACTERISTICS_*` of the optional header.
    pub dll_characteristics: u16,
    /// The entry point's relative virtual address.
    pub entry_point: u32,
    /// The linker map's name for the entry point, when a map was given.
    pub entry_symbol: Option<String>,
    /// Every module imported from, load-time imports first.
    pub imports: Vec<ImportedModule>,
    /// The image's sections.
    pub sections: Vec<Section>,
    /// Size of the base relocation directory in bytes.
    pub base_relocations: u32,
    /// Every rule the image breaks; empty when it passes.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when no rule is broken.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// The symbols of an MSVC-format linker map (`/MAP`, as link.exe and
/// lld-link write it): the entry point and the public symbols with their
/// relative virtual addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkerMap {
    symbols: Vec<(String, u32)>,
}

impl LinkerMap {
    /// Parses the map's "Preferred load address" and "Publics by Value"
    /// lines (`section:offset  name  address  object`).
    ///
    /// Errors: the map has no preferred load address, or a public symbol
    /// line whose address does not parse or lies below it.
    pub fn parse(text: &str) -> Result<Self, ReadError> {
        let base = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Preferred load address is "))
            .and_then(|b| u64::from_str_radix(b.trim(), 16).ok())
            .ok_or_else(|| ReadError("linker map: no preferred load address".into()))?;
        let mut symbols = Vec::new();
        let mut in_publics = false;
        for line in text.lines() {
            if line.contains("Publics by Value") {
                in_publics = true;
                continue;
            }
            if !in_publics {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            // `0001:00000370  DriverEntry  0000000180001370  [f] object`
            if fields.len() < 3 || !fields[0].contains(':') {
                continue;
            }
            let address = u64::from_str_radix(fields[2], 16)
                .ok()
                .and_then(|a| a.checked_sub(base))
                .and_then(|rva| u32::try_from(rva).ok())
                .ok_or_else(|| {
                    ReadError(format!("linker map: bad address in line {:?}", line.trim()))
                })?;
            symbols.push((fields[1].to_owned(), address));
        }
        Ok(Self { symbols })
    }

    /// The relative virtual address of `name`.
    pub fn address_of(&self, name: &str) -> Option<u32> {
        self.symbols
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, a)| a)
    }

    /// A symbol at `rva`, preferring [`KMDF_ENTRY_POINT`] and
    /// [`DRIVER_ENTRY`] when aliases share the address.
    pub fn symbol_at(&self, rva: u32) -> Option<&str> {
        let mut at = self
            .symbols
            .iter()
            .filter(|&&(_, a)| a == rva)
            .map(|(n, _)| n.as_str());
        let first = at.next()?;
        [first]
            .into_iter()
            .chain(at)
            .find(|&n| n == KMDF_ENTRY_POINT || n == DRIVER_ENTRY)
            .or(Some(first))
    }
}

/// Lints the image `data`; with `map`, also names the entry point and checks
/// that it is [`KMDF_ENTRY_POINT`] and that [`DRIVER_ENTRY`] exists.
///
/// Errors: `data` is not an x64 PE image whose headers and import tables
/// can be read.
pub fn lint(data: &[u8], map: Option<&LinkerMap>) -> Result<Report, ReadError> {
    let file = PeFile64::parse(data)?;
    let nt = file.nt_headers();
    let optional = nt.optional_header();
    let file_characteristics = nt.file_header().characteristics.get(LE);
    let subsystem = optional.subsystem();
    let dll_characteristics = optional.dll_characteristics();
    let entry_point = optional.address_of_entry_point();

    let sections: Vec<Section> = file
        .section_table()
        .iter()
        .map(|s| Section {
            name: String::from_utf8_lossy(s.raw_name()).into_owned(),
            characteristics: s.characteristics.get(LE),
        })
        .collect();
    let imports = read_imports(&file)?;
    let base_relocations = file
        .data_directory(pe::IMAGE_DIRECTORY_ENTRY_BASERELOC)
        .map_or(0, |d| d.size.get(LE));

    let mut findings = Vec::new();
    if subsystem != pe::IMAGE_SUBSYSTEM_NATIVE {
        findings.push(Finding::NotNativeSubsystem { subsystem });
    }
    let in_code = file.section_table().iter().any(|s| {
        let start = s.virtual_address.get(LE);
        let size = s.virtual_size.get(LE).max(s.size_of_raw_data.get(LE));
        s.characteristics.get(LE) & pe::IMAGE_SCN_MEM_EXECUTE != 0
            && entry_point >= start
            && entry_point - start < size
    });
    if entry_point == 0 || !in_code {
        findings.push(Finding::EntryPointNotInCode { rva: entry_point });
    }
    let entry_symbol = map
        .and_then(|m| m.symbol_at(entry_point))
        .map(str::to_owned);
    if let Some(map) = map {
        if entry_symbol.as_deref() != Some(KMDF_ENTRY_POINT) {
            findings.push(Finding::EntryPointNotFxDriverEntry {
                found: entry_symbol.clone(),
            });
        }
        if map.address_of(DRIVER_ENTRY).is_none() {
            findings.push(Finding::NoDriverEntry);
        }
    }
    for import in &imports {
        if import.delay_loaded {
            findings.push(Finding::DelayLoadedImport {
                module: import.module.clone(),
            });
        } else if !is_kernel_module(&import.module) {
            findings.push(Finding::ForbiddenImport {
                module: import.module.clone(),
                routines: import.routines.clone(),
            });
        }
    }
    for section in sections.iter().filter(|s| s.writable() && s.executable()) {
        findings.push(Finding::WritableExecutableSection {
            name: section.name.clone(),
        });
    }
    if dll_characteristics & pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT == 0 {
        findings.push(Finding::NotNxCompatible);
    }
    if dll_characteristics & pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE == 0 {
        findings.push(Finding::NotDynamicBase);
    }
    if file_characteristics & pe::IMAGE_FILE_RELOCS_STRIPPED != 0 {
        findings.push(Finding::RelocationsStripped);
    }
    if base_relocations == 0 {
        findings.push(Finding::NoBaseRelocations);
    }

    Ok(Report {
        subsystem,
        dll_characteristics,
        entry_point,
        entry_symbol,
        imports,
        sections,
        base_relocations,
        findings,
    })
}

/// True if `module` is one of [`KERNEL_MODULES`], ignoring case.
pub fn is_kernel_module(module: &str) -> bool {
    KERNEL_MODULES
        .iter()
        .any(|k| k.eq_ignore_ascii_case(module))
}

fn import_name(import: object::read::pe::Import<'_>) -> String {
    match import {
        object::read::pe::Import::Ordinal(n) => format!("#{n}"),
        object::read::pe::Import::Name(_, name) => String::from_utf8_lossy(name).into_owned(),
    }
}

fn read_imports(file: &PeFile64<'_>) -> Result<Vec<ImportedModule>, ReadError> {
    type Thunk = <pe::ImageNtHeaders64 as ImageNtHeaders>::ImageThunkData;
    let mut modules = Vec::new();
    if let Some(table) = file.import_table()? {
        let mut descriptors = table.descriptors()?;
        while let Some(d) = descriptors.next()? {
            let module = String::from_utf8_lossy(table.name(d.name.get(LE))?).into_owned();
            let first = match d.original_first_thunk.get(LE) {
                0 => d.first_thunk.get(LE),
                lookup => lookup,
            };
            let mut thunks = table.thunks(first)?;
            let mut routines = Vec::new();
            while let Some(thunk) = thunks.next::<pe::ImageNtHeaders64>()? {
                let thunk: Thunk = thunk;
                routines.push(import_name(table.import::<pe::ImageNtHeaders64>(thunk)?));
            }
            modules.push(ImportedModule {
                module,
                routines,
                delay_loaded: false,
            });
        }
    }
    let delay = file
        .data_directories()
        .delay_load_import_table(file.data(), &file.section_table())?;
    if let Some(table) = delay {
        let mut descriptors = table.descriptors()?;
        while let Some(d) = descriptors.next()? {
            let module = String::from_utf8_lossy(table.name(d.dll_name_rva.get(LE))?).into_owned();
            let mut thunks = table.thunks(d.import_name_table_rva.get(LE))?;
            let mut routines = Vec::new();
            while let Some(thunk) = thunks.next::<pe::ImageNtHeaders64>()? {
                routines.push(import_name(table.import::<pe::ImageNtHeaders64>(thunk)?));
            }
            modules.push(ImportedModule {
                module,
                routines,
                delay_loaded: true,
            });
        }
    }
    Ok(modules)
}
