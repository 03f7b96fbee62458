//! Each rule of `image_lint` against synthetic images: a good driver-shaped
//! image passes, and each image with one defect fails with exactly that
//! finding. The images are written with `object::write::pe::Writer`.

mod common;

use common::Spec;
use image_lint::{Finding, LinkerMap, lint};
use object::pe;

fn findings(spec: &Spec) -> Vec<Finding> {
    lint(&spec.build(), None)
        .expect("synthetic image reads")
        .findings
}

#[test]
fn a_driver_shaped_image_passes_and_lists_its_imports() {
    let report = lint(&Spec::driver().build(), None).unwrap();
    assert_eq!(report.findings, vec![]);
    assert!(report.passed());
    assert_eq!(report.subsystem, pe::IMAGE_SUBSYSTEM_NATIVE);
    let imports: Vec<(&str, Vec<&str>)> = report
        .imports
        .iter()
        .map(|m| {
            (
                m.module.as_str(),
                m.routines.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(imports, Spec::driver().imports);
    assert!(report.base_relocations > 0);
    assert_eq!(report.sections.len(), 3);
}

#[test]
fn a_user_mode_subsystem_fails() {
    let spec = Spec {
        subsystem: pe::IMAGE_SUBSYSTEM_WINDOWS_CUI,
        ..Spec::driver()
    };
    assert_eq!(
        findings(&spec),
        vec![Finding::NotNativeSubsystem {
            subsystem: pe::IMAGE_SUBSYSTEM_WINDOWS_CUI
        }]
    );
}

#[test]
fn a_kernel32_import_fails() {
    let mut spec = Spec::driver();
    spec.imports.push(("KERNEL32.dll", vec!["GetProcAddress"]));
    assert_eq!(
        findings(&spec),
        vec![Finding::ForbiddenImport {
            module: "KERNEL32.dll".into(),
            routines: vec!["GetProcAddress".into()],
        }]
    );
}

#[test]
fn a_vcruntime_import_fails_and_the_message_names_it() {
    let mut spec = Spec::driver();
    spec.imports
        .push(("VCRUNTIME140.dll", vec!["memcpy", "__C_specific_handler"]));
    let found = findings(&spec);
    assert_eq!(found.len(), 1);
    let message = found[0].to_string();
    assert!(message.contains("VCRUNTIME140.dll"), "{message}");
    assert!(message.contains("__C_specific_handler"), "{message}");
}

#[test]
fn kernel_module_names_are_compared_without_case() {
    let mut spec = Spec::driver();
    spec.imports = vec![
        ("NTOSKRNL.EXE", vec!["KeBugCheckEx"]),
        ("hal.dll", vec!["KeQueryPerformanceCounter"]),
        ("WDFLDR.SYS", vec!["WdfVersionBind"]),
    ];
    assert_eq!(findings(&spec), vec![]);
}

#[test]
fn a_delay_loaded_import_fails() {
    let mut spec = Spec::driver();
    spec.delay_imports
        .push(("ntoskrnl.exe", vec!["KeBugCheckEx"]));
    assert_eq!(
        findings(&spec),
        vec![Finding::DelayLoadedImport {
            module: "ntoskrnl.exe".into()
        }]
    );
}

#[test]
fn a_writable_executable_section_fails() {
    let spec = Spec {
        text_characteristics: Spec::driver().text_characteristics | pe::IMAGE_SCN_MEM_WRITE,
        ..Spec::driver()
    };
    assert_eq!(
        findings(&spec),
        vec![Finding::WritableExecutableSection {
            name: ".text".into()
        }]
    );
}

#[test]
fn an_image_without_nx_compat_fails() {
    let spec = Spec {
        dll_characteristics: pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE,
        ..Spec::driver()
    };
    assert_eq!(findings(&spec), vec![Finding::NotNxCompatible]);
}

#[test]
fn a_fixed_base_image_fails_every_relocation_rule() {
    let spec = Spec {
        dll_characteristics: pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT,
        file_characteristics: Spec::driver().file_characteristics | pe::IMAGE_FILE_RELOCS_STRIPPED,
        relocations: false,
        ..Spec::driver()
    };
    assert_eq!(
        findings(&spec),
        vec![
            Finding::NotDynamicBase,
            Finding::RelocationsStripped,
            Finding::NoBaseRelocations
        ]
    );
}

#[test]
fn an_image_without_base_relocations_fails() {
    let spec = Spec {
        relocations: false,
        ..Spec::driver()
    };
    assert_eq!(findings(&spec), vec![Finding::NoBaseRelocations]);
}

#[test]
fn an_entry_point_outside_code_fails() {
    let none = Spec {
        entry: None,
        ..Spec::driver()
    };
    assert_eq!(
        findings(&none),
        vec![Finding::EntryPointNotInCode { rva: 0 }]
    );
    let past = Spec {
        entry: Some(0x2000),
        ..Spec::driver()
    };
    assert!(matches!(
        findings(&past).as_slice(),
        [Finding::EntryPointNotInCode { .. }]
    ));
}

/// A linker map as lld-link writes it with `/MAP`, for a `.text` at RVA
/// 0x1000 (the synthetic images' layout).
fn map(entry_name: &str, driver_entry: bool) -> LinkerMap {
    let driver_entry_line = if driver_entry {
        " 0001:00000010       DriverEntry                0000000140001010     kcom_sample.o\n"
    } else {
        ""
    };
    let text = format!(
        " kcom_sample\n\n Timestamp is 6b09841a (Fri Nov 27 13:22:34 2026)\n\n \
         Preferred load address is 0000000140000000\n\n \
         Start         Length     Name                   Class\n \
         0001:00000000 00000100H .text                   CODE\n\n  \
         Address         Publics by Value              Rva+Base               Lib:Object\n\n\
         {driver_entry_line} \
         0001:00000040       {entry_name}              0000000140001040     WdfDriverEntry:wdfdriverentry.obj\n \
         0001:00000090       WdfFunctionCount           0000000140001090     WdfDriverEntry:wdfdriverentry.obj\n\n \
         entry point at         0001:00000040\n"
    );
    LinkerMap::parse(&text).expect("map parses")
}

#[test]
fn with_the_map_the_entry_point_is_named_fx_driver_entry() {
    let image = Spec::driver().build();
    let report = lint(&image, Some(&map("FxDriverEntry", true))).unwrap();
    assert_eq!(report.findings, vec![]);
    assert_eq!(report.entry_symbol.as_deref(), Some("FxDriverEntry"));
}

#[test]
fn an_entry_point_that_is_not_fx_driver_entry_fails() {
    let image = Spec::driver().build();
    let report = lint(&image, Some(&map("DriverEntry", true))).unwrap();
    assert_eq!(
        report.findings,
        vec![Finding::EntryPointNotFxDriverEntry {
            found: Some("DriverEntry".into())
        }]
    );
}

#[test]
fn an_image_without_driver_entry_fails() {
    let image = Spec::driver().build();
    let report = lint(&image, Some(&map("FxDriverEntry", false))).unwrap();
    assert_eq!(report.findings, vec![Finding::NoDriverEntry]);
}

#[test]
fn a_map_without_load_address_or_with_a_bad_address_is_an_error() {
    assert!(LinkerMap::parse("  Address  Publics by Value\n").is_err());
    let bad = " Preferred load address is 0000000140000000\n  Address  Publics by Value\n \
               0001:00000000  FxDriverEntry  00000000zz  x.obj\n";
    assert!(LinkerMap::parse(bad).is_err());
}

#[test]
fn bytes_that_are_not_a_pe_image_are_an_error() {
    assert!(lint(b"MZ but nothing else", None).is_err());
    assert!(lint(&[], None).is_err());
    let mut truncated = Spec::driver().build();
    truncated.truncate(0x100);
    assert!(lint(&truncated, None).is_err());
}
