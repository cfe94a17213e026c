use std::process::ExitCode;

use clap::Parser;

// A server runs for months: mimalloc returns freed memory to the system
// and does not keep an arena per thread at its peak as glibc's malloc
// does, so resident memory stays flat without MALLOC_ARENA_MAX
// (benches/soak.sh; `vigil-glibc` and `vigil-jemalloc` are the same server
// with the other allocators, for comparison).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = vigil::cli::Cli::parse();
    vigil::cli::init_logging(cli.log_format);
    vigil::cli::run(cli)
}
