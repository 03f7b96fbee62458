//! The loader: maps a PE32+ driver image into this process as the Windows
//! loader does (sections at their RVAs with their own protections, base
//! relocations applied, imports bound to host implementations), and names
//! addresses in it (section, nearest symbol from the PDB or the exports).

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::ptr;

use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, Import, PeFile64};
use object::{LittleEndian as LE, Object};

use crate::error::Error;

const PAGE: usize = 4096;

fn page_up(n: usize) -> usize {
    n.div_ceil(PAGE) * PAGE
}

/// A section as mapped.
#[derive(Clone, Debug)]
pub(crate) struct Section {
    pub name: String,
    pub rva: u32,
    pub size: u32,
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

/// One bound import.
#[derive(Clone, Debug)]
pub(crate) struct ImportEntry {
    pub module: String,
    pub name: String,
}

/// A mapped driver image.
#[derive(Debug)]
pub(crate) struct Image {
    pub path: PathBuf,
    pub base: usize,
    pub size: usize,
    pub preferred_base: usize,
    pub entry_rva: u32,
    pub sections: Vec<Section>,
    pub imports: Vec<ImportEntry>,
    pub relocations: usize,
    /// `(rva, size)` of the exception directory (`.pdata`).
    pub exception_directory: (u32, u32),
    /// `(rva, name)`, sorted by RVA.
    symbols: Vec<(u32, String)>,
    /// Where the symbols came from, for the report.
    pub symbol_source: String,
}

// SAFETY: the mapping is owned by the image and only unmapped on drop; the
// rest is plain data.
unsafe impl Send for Image {}
// SAFETY: as above; the image is never mutated after loading.
unsafe impl Sync for Image {}

impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: `base..base+size` is the mapping made by `load`, owned by
        // this image; the session drops the image only after the driver was
        // unloaded and every thread that ran its code has left it.
        unsafe { libc::munmap(self.base as *mut c_void, self.size) };
    }
}

/// A resolver: the address of the host's implementation of `module!name`.
pub(crate) type Resolve<'a> = &'a dyn Fn(&str, &str) -> Option<usize>;

impl Image {
    /// Maps `path`. Every import is resolved through `resolve`; if any is
    /// missing, all missing imports are reported together and nothing is
    /// left mapped.
    pub(crate) fn load(
        path: &Path,
        pdb: Option<&Path>,
        relocate: bool,
        resolve: Resolve<'_>,
    ) -> Result<Image, Error> {
        let data = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let file = PeFile64::parse(&*data).map_err(|e| Error::BadImage(e.to_string()))?;
        let nt = file.nt_headers();
        let opt = nt.optional_header();
        if nt.file_header().machine.get(LE) != pe::IMAGE_FILE_MACHINE_AMD64 {
            return Err(Error::BadImage("not an x64 (AMD64) image".into()));
        }
        if opt.subsystem() != pe::IMAGE_SUBSYSTEM_NATIVE {
            return Err(Error::BadImage(format!(
                "subsystem {} is not NATIVE (1): not a driver",
                opt.subsystem()
            )));
        }
        if !(opt.section_alignment() as usize).is_multiple_of(PAGE) {
            return Err(Error::BadImage(format!(
                "section alignment {:#x} is not a multiple of the page size",
                opt.section_alignment()
            )));
        }
        let preferred = opt.image_base() as usize;
        let size = page_up(opt.size_of_image() as usize);
        if size == 0 {
            return Err(Error::BadImage("SizeOfImage is 0".into()));
        }
        let base = map_image(preferred, size, relocate)?;
        let mut image = Image {
            path: path.to_owned(),
            base,
            size,
            preferred_base: preferred,
            entry_rva: opt.address_of_entry_point(),
            sections: Vec::new(),
            imports: Vec::new(),
            relocations: 0,
            exception_directory: (0, 0),
            symbols: Vec::new(),
            symbol_source: String::new(),
        };
        // From here on a failure drops `image`, which unmaps it.
        image.copy_in(&file, &data)?;
        image.relocate(&file, &data)?;
        image.bind_imports(&file, &data, resolve)?;
        image.protect()?;
        if let Some(dir) = file.data_directory(pe::IMAGE_DIRECTORY_ENTRY_EXCEPTION) {
            image.exception_directory = (dir.virtual_address.get(LE), dir.size.get(LE));
        }
        image.load_symbols(&file, pdb);
        Ok(image)
    }

    /// Headers and sections into the (still read-write) mapping.
    fn copy_in(&mut self, file: &PeFile64<'_>, data: &[u8]) -> Result<(), Error> {
        let headers = (file.nt_headers().optional_header().size_of_headers() as usize)
            .min(data.len())
            .min(self.size);
        // SAFETY: the mapping is `self.size` writable bytes and `headers`
        // is at most that and at most the file's length.
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), self.base as *mut u8, headers) };
        for s in file.section_table().iter() {
            let name = String::from_utf8_lossy(s.raw_name())
                .trim_end_matches('\0')
                .to_string();
            let va = s.virtual_address.get(LE) as usize;
            let vsize = s.virtual_size.get(LE) as usize;
            let raw = s.pointer_to_raw_data.get(LE) as usize;
            let raw_size = s.size_of_raw_data.get(LE) as usize;
            let copy = if vsize == 0 {
                raw_size
            } else {
                raw_size.min(vsize)
            };
            let span = vsize.max(copy);
            if va.checked_add(span).is_none_or(|end| end > self.size)
                || raw.checked_add(copy).is_none_or(|end| end > data.len())
            {
                return Err(Error::BadImage(format!(
                    "section {name} lies outside the image"
                )));
            }
            // SAFETY: both ranges were checked against the mapping and the
            // file just above.
            unsafe {
                ptr::copy_nonoverlapping(data.as_ptr().add(raw), (self.base + va) as *mut u8, copy)
            };
            let ch = s.characteristics.get(LE);
            self.sections.push(Section {
                name,
                rva: va as u32,
                size: span as u32,
                read: ch & pe::IMAGE_SCN_MEM_READ != 0,
                write: ch & pe::IMAGE_SCN_MEM_WRITE != 0,
                execute: ch & pe::IMAGE_SCN_MEM_EXECUTE != 0,
            });
        }
        Ok(())
    }

    /// Base relocations (only DIR64 and padding entries occur in x64 images).
    fn relocate(&mut self, file: &PeFile64<'_>, data: &[u8]) -> Result<(), Error> {
        let delta = self.base.wrapping_sub(self.preferred_base) as u64;
        if delta == 0 {
            return Ok(());
        }
        let sections = file.section_table();
        let blocks = file
            .data_directories()
            .relocation_blocks(data, &sections)
            .map_err(|e| Error::BadImage(e.to_string()))?;
        let Some(mut blocks) = blocks else {
            return Err(Error::BadImage(
                "the image is not at its preferred base and has no relocations".into(),
            ));
        };
        while let Some(block) = blocks.next().map_err(|e| Error::BadImage(e.to_string()))? {
            for r in block {
                match r.typ {
                    pe::IMAGE_REL_BASED_ABSOLUTE => {}
                    pe::IMAGE_REL_BASED_DIR64 => {
                        let at = r.virtual_address as usize;
                        if at.checked_add(8).is_none_or(|end| end > self.size) {
                            return Err(Error::BadImage(format!(
                                "relocation at rva {at:#x} outside the image"
                            )));
                        }
                        let p = (self.base + at) as *mut u64;
                        // SAFETY: 8 bytes inside the writable mapping
                        // (checked above); unaligned access is allowed.
                        unsafe { p.write_unaligned(p.read_unaligned().wrapping_add(delta)) };
                        self.relocations += 1;
                    }
                    t => {
                        return Err(Error::BadImage(format!(
                            "unsupported relocation type {t} at rva {:#x}",
                            r.virtual_address
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Binds every import; collects every one that cannot be bound.
    fn bind_imports(
        &mut self,
        file: &PeFile64<'_>,
        data: &[u8],
        resolve: Resolve<'_>,
    ) -> Result<(), Error> {
        let sections = file.section_table();
        let bad = |e: object::Error| Error::BadImage(e.to_string());
        let Some(table) = file
            .data_directories()
            .import_table(data, &sections)
            .map_err(bad)?
        else {
            return Ok(());
        };
        let mut unresolved = Vec::new();
        let mut descriptors = table.descriptors().map_err(bad)?;
        while let Some(d) = descriptors.next().map_err(bad)? {
            let module =
                String::from_utf8_lossy(table.name(d.name.get(LE)).map_err(bad)?).into_owned();
            let lookup = match d.original_first_thunk.get(LE) {
                0 => d.first_thunk.get(LE),
                rva => rva,
            };
            let iat = d.first_thunk.get(LE) as usize;
            let mut thunks = table.thunks(lookup).map_err(bad)?;
            let mut index = 0usize;
            while let Some(thunk) = thunks.next::<pe::ImageNtHeaders64>().map_err(bad)? {
                let name = match table.import::<pe::ImageNtHeaders64>(thunk).map_err(bad)? {
                    Import::Name(_, n) => String::from_utf8_lossy(n).into_owned(),
                    Import::Ordinal(o) => format!("#{o}"),
                };
                let slot = iat + 8 * index;
                if slot + 8 > self.size {
                    return Err(Error::BadImage(format!(
                        "import address table of {module} outside the image"
                    )));
                }
                match resolve(&module, &name) {
                    Some(address) => {
                        // SAFETY: 8 bytes inside the writable mapping
                        // (checked above).
                        unsafe { ((self.base + slot) as *mut usize).write_unaligned(address) };
                    }
                    None => unresolved.push(format!("{module}!{name}")),
                }
                self.imports.push(ImportEntry {
                    module: module.clone(),
                    name,
                });
                index += 1;
            }
        }
        if unresolved.is_empty() {
            Ok(())
        } else {
            Err(Error::UnresolvedImports(unresolved))
        }
    }

    /// Headers read-only, each section with its own protection; W+X refused.
    fn protect(&self) -> Result<(), Error> {
        let first = self
            .sections
            .iter()
            .map(|s| s.rva as usize)
            .min()
            .unwrap_or(self.size);
        // SAFETY: the header pages are part of the mapping.
        let rc = unsafe {
            libc::mprotect(
                self.base as *mut c_void,
                page_up(first).min(self.size),
                libc::PROT_READ,
            )
        };
        if rc != 0 {
            return Err(Error::Map("mprotect of the headers failed".into()));
        }
        for s in &self.sections {
            if s.write && s.execute {
                return Err(Error::BadImage(format!(
                    "section {} is writable and executable",
                    s.name
                )));
            }
            let prot = (if s.read { libc::PROT_READ } else { 0 })
                | (if s.write { libc::PROT_WRITE } else { 0 })
                | (if s.execute { libc::PROT_EXEC } else { 0 });
            let len = page_up(s.size as usize).min(self.size - s.rva as usize);
            // SAFETY: the section lies inside the mapping (checked when it
            // was copied in).
            let rc =
                unsafe { libc::mprotect((self.base + s.rva as usize) as *mut c_void, len, prot) };
            if rc != 0 {
                return Err(Error::Map(format!("mprotect of section {} failed", s.name)));
            }
        }
        Ok(())
    }

    fn load_symbols(&mut self, file: &PeFile64<'_>, pdb: Option<&Path>) {
        let mut symbols: Vec<(u32, String)> = Vec::new();
        if let Ok(Some(exports)) = file.export_table()
            && let Ok(list) = exports.exports()
        {
            for e in list {
                if let (Some(n), object::read::pe::ExportTarget::Address(rva)) = (e.name, e.target)
                {
                    symbols.push((rva, String::from_utf8_lossy(n).into_owned()));
                }
            }
        }
        let mut source = format!("{} exports", symbols.len());
        if let Ok(Some(cv)) = file.pdb_info() {
            let candidates: Vec<PathBuf> = match pdb {
                Some(p) => vec![p.to_owned()],
                None => pdb_candidates(&self.path, &String::from_utf8_lossy(cv.path())),
            };
            let mut notes = Vec::new();
            for candidate in candidates {
                match crate::linux::loader::symbols::read_pdb(&candidate, cv.guid()) {
                    Ok(list) => {
                        source = format!("{} symbols from {}", list.len(), candidate.display());
                        symbols.extend(list);
                        notes.clear();
                        break;
                    }
                    Err(e) => notes.push(format!("{}: {e}", candidate.display())),
                }
            }
            if !notes.is_empty() {
                source = format!("{source} (no PDB: {})", notes.join("; "));
            }
        }
        symbols.sort();
        symbols.dedup_by_key(|s| s.0);
        self.symbols = symbols;
        self.symbol_source = source;
    }

    /// An image laid out by a test: `size` bytes of fresh read-write memory
    /// with the given sections and exception directory, no symbols. The
    /// caller writes the contents through `base`.
    #[cfg(test)]
    pub(crate) fn for_test(
        size: usize,
        sections: Vec<Section>,
        exception_directory: (u32, u32),
    ) -> Image {
        let base = map_image(0, page_up(size), true).expect("test mapping");
        Image {
            path: PathBuf::from("test.sys"),
            base,
            size: page_up(size),
            preferred_base: base,
            entry_rva: 0,
            sections,
            imports: Vec::new(),
            relocations: 0,
            exception_directory,
            symbols: Vec::new(),
            symbol_source: String::new(),
        }
    }

    /// Whether `address` lies in the image.
    pub(crate) fn contains(&self, address: usize) -> bool {
        address >= self.base && address < self.base + self.size
    }

    /// Whether `len` bytes at `address` lie inside one readable section.
    pub(crate) fn readable(&self, address: usize, len: usize) -> bool {
        let Some(rva) = address.checked_sub(self.base) else {
            return false;
        };
        self.sections.iter().any(|s| {
            s.read
                && rva >= s.rva as usize
                && rva
                    .checked_add(len)
                    .is_some_and(|end| end <= s.rva as usize + s.size as usize)
        })
    }

    /// The section holding `rva`.
    pub(crate) fn section_of(&self, rva: u32) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| rva >= s.rva && rva < s.rva + s.size)
    }

    /// `0x180001234 (image+0x1234 .text kcom_sample::driver::f+0x34)`.
    pub(crate) fn describe(&self, address: usize) -> String {
        self.describe_named_by(address, address)
    }

    /// A return address, named by the function of its call instruction
    /// (the byte before it): a call to a routine that does not return may
    /// be its function's last instruction.
    pub(crate) fn describe_return(&self, address: usize) -> String {
        self.describe_named_by(address, address.saturating_sub(1))
    }

    /// `address`, in the section and function that hold `named_by`.
    fn describe_named_by(&self, address: usize, named_by: usize) -> String {
        if !self.contains(address) || !self.contains(named_by) {
            return format!("{address:#x} (outside the image)");
        }
        let rva = (address - self.base) as u32;
        let lookup = (named_by - self.base) as u32;
        let Some(section) = self.section_of(lookup) else {
            return format!("{address:#x} (image+{rva:#x} headers)");
        };
        match self.symbol_at(lookup) {
            Some((start, name)) if start >= section.rva => format!(
                "{address:#x} (image+{rva:#x} {} {name}+{:#x})",
                section.name,
                rva - start
            ),
            _ => format!("{address:#x} (image+{rva:#x} {})", section.name),
        }
    }

    /// The nearest symbol at or below `rva`.
    pub(crate) fn symbol_at(&self, rva: u32) -> Option<(u32, &str)> {
        let i = match self.symbols.binary_search_by_key(&rva, |s| s.0) {
            Ok(i) => i,
            Err(0) => return None,
            Err(i) => i - 1,
        };
        Some((self.symbols[i].0, self.symbols[i].1.as_str()))
    }

    /// The entry point's address.
    pub(crate) fn entry(&self) -> usize {
        self.base + self.entry_rva as usize
    }
}

/// Where the PDB of the image at `image` may be, in order: the file the
/// CodeView record names, beside the image (the record's name may differ
/// from the image's: rustc names the PDB after the crate, `-` becoming
/// `_`); the record's path as it is (the build's absolute path); the
/// image's name with `.pdb`.
fn pdb_candidates(image: &Path, codeview: &str) -> Vec<PathBuf> {
    let dir = image.parent().unwrap_or(Path::new(""));
    // The record holds a Windows or a Unix path.
    let file = codeview.rsplit(['/', '\\']).next().unwrap_or(codeview);
    let mut list = Vec::new();
    for candidate in [
        (!file.is_empty()).then(|| dir.join(file)),
        (!codeview.is_empty()).then(|| PathBuf::from(codeview)),
        Some(image.with_extension("pdb")),
    ]
    .into_iter()
    .flatten()
    {
        if !list.contains(&candidate) {
            list.push(candidate);
        }
    }
    list
}

/// Reserves the image's memory, read-write while it is laid out: at its
/// preferred base when that is free (and `relocate` is not asked), anywhere
/// otherwise.
fn map_image(preferred: usize, size: usize, relocate: bool) -> Result<usize, Error> {
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    if !relocate && preferred != 0 {
        // SAFETY: a new anonymous mapping; FIXED_NOREPLACE never replaces an
        // existing one.
        let p = unsafe {
            libc::mmap(
                preferred as *mut c_void,
                size,
                prot,
                flags | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            if p as usize == preferred {
                return Ok(preferred);
            }
            // Old kernels treat the flag as a hint.
            // SAFETY: the mapping just made, not used.
            unsafe { libc::munmap(p, size) };
        }
    }
    // SAFETY: a new anonymous mapping anywhere.
    let p = unsafe { libc::mmap(ptr::null_mut(), size, prot, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return Err(Error::Map(format!("mmap of {size:#x} bytes failed")));
    }
    Ok(p as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pdb_is_looked_up_by_its_codeview_name_beside_the_image() {
        assert_eq!(
            pdb_candidates(Path::new("/out/double-complete.exe"), "double_complete.pdb"),
            [
                PathBuf::from("/out/double_complete.pdb"),
                PathBuf::from("double_complete.pdb"),
                PathBuf::from("/out/double-complete.pdb"),
            ]
        );
        let windows = pdb_candidates(
            Path::new("/out/kcom_sample.dll"),
            r"C:\build\target\kcom_sample.pdb",
        );
        assert_eq!(windows[0], PathBuf::from("/out/kcom_sample.pdb"));
        assert_eq!(
            windows.len(),
            2,
            "the record's path and the image's name coincide"
        );
    }
}
