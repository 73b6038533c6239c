//! `sessionsd`: the session service's one binary.

fn main() -> std::process::ExitCode {
    sessions_server::process::run_process(std::env::args_os())
}
