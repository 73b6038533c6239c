//! `sessionsd`: the session service's one binary.

/// mimalloc over glibc's malloc: per-request allocations are many and small,
/// and glibc spent a fifth of the token check's CPU in malloc/free and their
/// consolidation (`perf`, see README "Benchmarks").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sessions_server::process::run_process(std::env::args_os())
}
