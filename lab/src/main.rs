//! The `switchyard-lab` binary: the lab's command line (docs/lab.md) with the built-in
//! models; the library is `switchyard_lab`.

fn main() -> std::process::ExitCode {
    switchyard_lab::main()
}
