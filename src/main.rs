use std::process::ExitCode;

use clap::Parser;

// A server runs for months: jemalloc returns freed memory to the system
// and does not keep an arena per thread at its peak as glibc's malloc
// does, so resident memory stays flat without MALLOC_ARENA_MAX. In
// benches/soak.sh (40 s of reads and writes) it held 59–70 MB where
// mimalloc held 181–202 MB and glibc grew by 22 %; `vigil-glibc` and
// `vigil-mimalloc` are the same server with those allocators.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = vigil::cli::Cli::parse();
    vigil::cli::init_logging(cli.log_format);
    vigil::cli::run(cli)
}
