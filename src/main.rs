use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = vigil::cli::Cli::parse();
    vigil::cli::init_logging(cli.log_format);
    vigil::cli::run(cli)
}
