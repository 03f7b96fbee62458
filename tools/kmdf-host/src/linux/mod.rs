//! The x86_64 Linux implementation, in layers that import only downward:
//!
//! 1. [`abi`]: the Windows x64 types, constants and layouts images see.
//! 2. [`loader`]: maps a PE image and binds its imports.
//! 3. [`cpu`]: per-thread state (IRQL, call sites, running callbacks) and
//!    the x64 unwinder.
//! 4. [`kernel`]: the `ntoskrnl.exe` and `hal.dll` routines, the pool, the
//!    IRQL rules, faults, the stop, and the [`kernel::session::Session`]
//!    that holds one driver's kernel state beside its framework backend.
//! 5. [`backend`]: the framework a driver binds to (the model today).
//! 6. [`host`]: [`Host`], which loads a driver and drives it.

mod abi;
pub(crate) mod backend;
pub(crate) mod cpu;
mod host;
pub(crate) mod kernel;
mod loader;

pub use host::Host;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// The layers, lowest first (a module of this directory, or a file).
    const LAYERS: [&str; 6] = ["abi", "loader", "cpu", "kernel", "backend", "host"];

    fn rank(layer: &str) -> usize {
        LAYERS
            .iter()
            .position(|l| *l == layer)
            .unwrap_or_else(|| panic!("`{layer}` is not in LAYERS"))
    }

    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn each_layer_imports_only_the_layers_below_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/linux");
        let mut files = Vec::new();
        sources(&root, &mut files);
        let mut upward = Vec::new();
        for file in files {
            let relative = file.strip_prefix(&root).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let layer = first.to_str().unwrap().trim_end_matches(".rs");
            if layer == "mod" {
                continue;
            }
            let own = rank(layer);
            let text = std::fs::read_to_string(&file).unwrap();
            for (at, _) in text.match_indices("crate::linux::") {
                let rest = &text[at + "crate::linux::".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let target = &rest[..end];
                if rank(target) > own {
                    upward.push(format!(
                        "{} uses crate::linux::{target}",
                        relative.display()
                    ));
                }
            }
            assert!(
                !text.contains("super::super::super::super"),
                "{} climbs out of its layer by `super`",
                relative.display()
            );
        }
        assert!(upward.is_empty(), "imports upward: {upward:#?}");
    }
}
