//! The `kcomctl` binary; see the library crate for the layers.

fn main() {
    std::process::exit(kcomctl::cli::main());
}
