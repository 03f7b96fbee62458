//! The Windows packaging inputs, checked where they cannot run: the cargo-make
//! tasks (`Makefile.toml`), the driver's wdk metadata, the one INX both
//! packaging flows read, and the INF it becomes.
//!
//! None of this executes here (cargo-make's Windows tasks, stampinf and PnP
//! need Windows); these tests hold the rules whose breaking made `cargo make
//! package` fail or the driver uninstallable where it should load.
//!
//! Not under Miri: the tests read files (Miri isolates the file system) and
//! run no unsafe code.
#![cfg(not(miri))]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests-host is inside the workspace")
        .to_path_buf()
}

fn read_toml(relative: &str) -> Table {
    let text = fs::read_to_string(root().join(relative)).unwrap();
    text.parse::<Table>()
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn tasks() -> Table {
    read_toml("Makefile.toml")["tasks"]
        .as_table()
        .expect("Makefile.toml has [tasks]")
        .clone()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a string"))
        .collect()
}

// ---------------------------------------------------------------------------
// Makefile.toml
// ---------------------------------------------------------------------------

/// The aliases of `task`, for every platform cargo-make knows.
fn aliases(task: &Table) -> Vec<(&'static str, &str)> {
    ["alias", "windows_alias", "linux_alias", "mac_alias"]
        .into_iter()
        .filter_map(|key| Some((key, task.get(key)?.as_str()?)))
        .collect()
}

#[test]
fn no_alias_targets_a_private_or_missing_task() {
    let tasks = tasks();
    let mut checked = 0;
    for (name, task) in &tasks {
        for (key, target) in aliases(task.as_table().unwrap()) {
            let target_task = tasks
                .get(target)
                .unwrap_or_else(|| panic!("task {name}: {key} = {target:?}, no such task"))
                .as_table()
                .unwrap();
            // cargo-make resolves the alias, then refuses a private task
            // ("Task ... is private"): `cargo make package` stopped at once.
            assert_ne!(
                target_task.get("private").and_then(Value::as_bool),
                Some(true),
                "task {name}: {key} = {target:?} is private"
            );
            checked += 1;
        }
    }
    assert!(checked >= 1, "package's windows_alias is checked");
    assert_eq!(
        tasks["package"]["windows_alias"].as_str(),
        Some("package-windows")
    );
}

#[test]
fn the_windows_package_task_forwards_the_profile_and_its_arguments() {
    let task = tasks()["package-windows"].as_table().unwrap().clone();
    assert_eq!(
        task["cwd"].as_str(),
        Some("driver"),
        "the flow runs in the driver crate"
    );
    let args = strings(&task["args"]);
    let flow = args
        .iter()
        .position(|&a| a == "package-driver-flow")
        .expect("runs wdk-build's package-driver-flow");
    // Options before the task name are cargo-make's; `cargo make --profile
    // release package` must reach the nested call.
    let profile = args
        .iter()
        .position(|&a| a == "--profile")
        .expect("--profile");
    assert!(profile < flow);
    assert_eq!(args[profile + 1], "${CARGO_MAKE_PROFILE}");
    // Arguments after the task name are the task's: `cargo make package
    // --profile release` passes `--profile release` there, which wdk-build's
    // flow turns into cargo's profile. Dropped, the flow built a debug driver.
    assert_eq!(&args[flow + 1..], ["${@}"]);
}

/// Every cargo command line of `task` (its `command` + `args`, and each line
/// of its `script` that runs cargo), as words.
fn cargo_lines(task: &Table) -> Vec<Vec<String>> {
    let mut lines = Vec::new();
    if task.get("command").and_then(Value::as_str) == Some("cargo") {
        let mut line = vec!["cargo".to_string()];
        if let Some(args) = task.get("args") {
            line.extend(strings(args).into_iter().map(str::to_string));
        }
        lines.push(line);
    }
    if let Some(script) = task.get("script").and_then(Value::as_str) {
        for line in script.lines() {
            let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            if words.first().map(String::as_str) == Some("cargo") {
                lines.push(words);
            }
        }
    }
    lines
}

#[test]
fn host_tasks_over_the_workspace_leave_the_driver_out() {
    let driver = read_toml("driver/Cargo.toml")["package"]["name"]
        .as_str()
        .expect("driver/Cargo.toml names its package")
        .to_string();
    let mut checked = Vec::new();
    for (name, task) in &tasks() {
        for line in cargo_lines(task.as_table().unwrap()) {
            if !line.iter().any(|w| w == "--workspace") {
                continue;
            }
            // On Windows the driver builds only with the WDK, and building it
            // beside the host crates unifies kcom's `driver` feature into the
            // user-mode test binaries.
            let excluded = line
                .windows(2)
                .any(|pair| pair[0] == "--exclude" && pair[1] == driver);
            assert!(
                excluded,
                "task {name}: `{}` builds the driver crate {driver}",
                line.join(" ")
            );
            checked.push(name.clone());
        }
    }
    for task in ["test", "lint"] {
        assert!(
            checked.iter().any(|n| n == task),
            "task {task} runs cargo over the workspace (checked: {checked:?})"
        );
    }
}

// ---------------------------------------------------------------------------
// The driver's wdk metadata and the single INX
// ---------------------------------------------------------------------------

fn driver_model() -> Table {
    read_toml("driver/Cargo.toml")["package"]["metadata"]["wdk"]["driver-model"]
        .as_table()
        .expect("[package.metadata.wdk.driver-model]")
        .clone()
}

fn integer(table: &Table, key: &str) -> i64 {
    table[key]
        .as_integer()
        .unwrap_or_else(|| panic!("{key} is an integer"))
}

#[test]
fn the_driver_targets_kmdf_1_33_and_binds_from_1_31() {
    let model = driver_model();
    assert_eq!(model["driver-type"].as_str(), Some("KMDF"));
    assert_eq!(integer(&model, "kmdf-version-major"), 1);
    assert_eq!(integer(&model, "target-kmdf-version-minor"), 33);
    // KMDF 1.31 is Windows 10 version 2004 (build 19041), the INF's floor.
    assert_eq!(integer(&model, "minimum-kmdf-version-minor"), 31);
}

/// Every `*.inx` under `dir`, skipping build output and VCS folders.
fn inx_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                inx_files(&path, found);
            }
        } else if name.to_ascii_lowercase().ends_with(".inx") {
            found.push(path);
        }
    }
}

#[test]
fn one_inx_serves_cargo_make_and_cargo_wdk() {
    let manifest = read_toml("driver/Cargo.toml");
    let package = manifest["package"]["name"].as_str().unwrap();
    let lib = manifest["lib"]["name"].as_str().unwrap();
    // cargo-wdk 0.2 reads `<package name with - as _>.inx` next to the
    // package's Cargo.toml and packages `<same>.dll` as `.sys`; wdk-build's
    // copy-inx-to-output reads `<crate fs name>.inx` in the crate's folder.
    assert_eq!(lib, package.replace('-', "_"));
    let mut found = Vec::new();
    inx_files(&root(), &mut found);
    assert_eq!(
        found,
        vec![root().join("driver").join(format!("{lib}.inx"))],
        "exactly one INX, where both flows look for it"
    );
    assert!(
        !tasks().contains_key("copy-inx-to-output"),
        "no task copies an INX from elsewhere: wdk-build's own reads driver/{lib}.inx"
    );
}

// ---------------------------------------------------------------------------
// The INF
// ---------------------------------------------------------------------------

/// An INF file: section name (lowercase, as INF names are case-insensitive)
/// to its lines, comments and blank lines removed.
fn parse_inf(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for raw in text.lines() {
        // `;` starts a comment unless it is inside a quoted string.
        let mut line = String::new();
        let mut quoted = false;
        for c in raw.chars() {
            match c {
                '"' => quoted = !quoted,
                ';' if !quoted => break,
                _ => {}
            }
            line.push(c);
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_ascii_lowercase();
            assert!(!sections.contains_key(&name), "section [{name}] twice");
            sections.insert(name.clone(), Vec::new());
            current = Some(name);
        } else {
            let section = current.as_ref().expect("a line before any section");
            sections.get_mut(section).unwrap().push(line.to_owned());
        }
    }
    sections
}

fn inf() -> BTreeMap<String, Vec<String>> {
    parse_inf(&fs::read_to_string(root().join("driver/kcom_sample.inx")).unwrap())
}

/// The value of `key = value` lines of `section` (first match).
fn entry<'a>(inf: &'a BTreeMap<String, Vec<String>>, section: &str, key: &str) -> &'a str {
    inf.get(&section.to_ascii_lowercase())
        .unwrap_or_else(|| panic!("no section [{section}]"))
        .iter()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
        })
        .unwrap_or_else(|| panic!("no {key} in [{section}]"))
}

fn split_list(value: &str) -> Vec<&str> {
    value.split(',').map(str::trim).collect()
}

#[test]
fn the_inf_parser_reads_sections_and_keeps_quoted_semicolons() {
    let parsed = parse_inf("; c\n[A]\nx = \"a;b\" ; comment\n\n[b]\ny=1\n");
    assert_eq!(parsed["a"], vec!["x = \"a;b\""]);
    assert_eq!(parsed["b"], vec!["y=1"]);
}

#[test]
fn the_models_are_decorated_for_windows_10_build_19041() {
    let inf = inf();
    let manufacturer = &inf["manufacturer"];
    assert_eq!(manufacturer.len(), 1);
    let (_, models) = manufacturer[0].split_once('=').unwrap();
    let models = split_list(models);
    assert_eq!(models[0], "Standard");
    let decorations = &models[1..];
    assert_eq!(decorations, ["NT$ARCH$.10.0...19041"]);
    for decoration in decorations {
        let build: u32 = decoration.rsplit("...").next().unwrap().parse().unwrap();
        assert!(
            build >= 19041,
            "{decoration} installs below the driver's floor"
        );
        let section = format!("Standard.{decoration}");
        let model = entry(&inf, &section, "%DeviceDesc%");
        assert_eq!(split_list(model), ["KcomSample_Device", "Root\\KcomSample"]);
    }
    // No undecorated models section that older Windows versions would use.
    assert!(!inf.contains_key("standard"));
}

#[test]
fn the_device_is_admin_only_through_the_hw_section() {
    let inf = inf();
    let hw_addreg = entry(&inf, "KcomSample_Device.NT$ARCH$.HW", "AddReg");
    let security = inf
        .get(&hw_addreg.to_ascii_lowercase())
        .unwrap_or_else(|| panic!("no [{hw_addreg}]"));
    let reg = |name: &str| -> Vec<&str> {
        security
            .iter()
            .map(|l| split_list(l))
            .find(|fields| fields.len() == 5 && fields[0] == "HKR" && fields[2] == name)
            .unwrap_or_else(|| panic!("no HKR,,{name} in [{hw_addreg}]"))
    };
    // SYSTEM and Administrators, full access, protected from inheritance.
    assert_eq!(reg("Security")[4], "\"D:P(A;;GA;;;SY)(A;;GA;;;BA)\"");
    // FILE_DEVICE_SECURE_OPEN (0x100), as a REG_DWORD (0x10001).
    assert_eq!(&reg("DeviceCharacteristics")[3..], ["0x10001", "0x100"]);
}

#[test]
fn the_service_and_kmdf_sections_fit_together() {
    let inf = inf();
    let copy = entry(&inf, "KcomSample_Device.NT$ARCH$", "CopyFiles");
    assert_eq!(inf[&copy.to_ascii_lowercase()], vec!["kcom_sample.sys"]);

    let service = split_list(entry(
        &inf,
        "KcomSample_Device.NT$ARCH$.Services",
        "AddService",
    ));
    assert_eq!(service[0], "kcom_sample");
    let install = service[2];
    assert_eq!(entry(&inf, install, "ServiceType"), "1");
    assert_eq!(
        entry(&inf, install, "ServiceBinary"),
        "%13%\\kcom_sample.sys"
    );

    let kmdf = split_list(entry(&inf, "KcomSample_Device.NT$ARCH$.Wdf", "KmdfService"));
    assert_eq!(
        kmdf[0], service[0],
        "KmdfService names the driver's service"
    );
    // The framework version PnP requires: the driver's minimum, so that it
    // installs where KMDF 1.31 is the newest framework.
    let minimum = integer(&driver_model(), "minimum-kmdf-version-minor");
    assert_eq!(
        entry(&inf, kmdf[1], "KmdfLibraryVersion"),
        format!("1.{minimum}")
    );
}
