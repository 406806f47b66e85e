fn main() -> std::process::ExitCode {
    cafleet::cli::main()
}
