//! The `bankdeck` binary: everything lives in the library; see `cli::main`.

fn main() -> std::process::ExitCode {
    bankdeck::cli::main()
}
