//! The `cafleet` binary: everything lives in the library, behind `cafleet::cli::main`.

fn main() -> std::process::ExitCode {
    cafleet::cli::main()
}
