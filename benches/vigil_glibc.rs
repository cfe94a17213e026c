//! `vigil` with glibc's malloc instead of jemalloc, for benches/soak.sh's
//! comparison of allocators. Built only with the `bench-tools` feature.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = vigil::cli::Cli::parse();
    vigil::cli::init_logging(cli.log_format);
    vigil::cli::run(cli)
}
