//! The `vigil` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::checks::Outcome;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::files::{self, Folder};
use crate::service::{self, Imported};
use crate::{demo, http};

/// vigil: casualty figures of mass-casualty events, each traced to the
/// sources that state it, checked, reviewed, published and audited.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, max_term_width = 100)]
pub struct Cli {
    /// The database: sqlite://PATH (the embedded default) or
    /// postgres://USER@HOST/DB.
    #[arg(
        long,
        global = true,
        env = "VIGIL_DATABASE_URL",
        default_value = "sqlite://vigil.db"
    )]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the public pages and API (migrates the database first).
    Serve {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        /// Worker threads; defaults to the number of CPUs.
        #[arg(long)]
        workers: Option<usize>,
        /// On a database without the Beslan event, import the dataset
        /// embedded in the binary first.
        #[arg(long)]
        demo: bool,
        /// How often to look for versions published by other replicas, in
        /// seconds.
        #[arg(long, default_value_t = 2)]
        refresh_seconds: u64,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Import an event folder of CSV files (event.csv, sources.csv,
    /// figures.csv, claims.csv, rules.csv). A new event is published as
    /// version 1; changes to an existing event become a submitted changeset.
    /// All or nothing: any problem leaves the database untouched.
    Import {
        /// The folder, e.g. imports/beslan-2004.
        dir: PathBuf,
        /// Check the files and show what would change, without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write an event's current data as CSV files into a folder.
    Export {
        /// The event's slug, e.g. beslan-2004.
        slug: String,
        /// The folder to write (created if needed; files are overwritten).
        dir: PathBuf,
    },
    /// Run the consistency checks. Exits 0 when no error-severity check is
    /// violated, 1 when one is, 2 on bad usage.
    Check {
        /// The event to check; every event when omitted.
        slug: Option<String>,
        /// Check an import folder instead of the database.
        #[arg(long, conflicts_with = "slug")]
        dir: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Who the CLI acts as, for changesets and the audit log.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

fn open(url: &str) -> Result<Db> {
    let db = Db::open(url)?;
    db.migrate()?;
    Ok(db)
}

/// Runs the command; the exit status follows DESIGN.md.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Check { slug, dir, format } => return check(&cli.database_url, slug, dir, format),
        Command::Serve {
            bind,
            workers,
            demo,
            refresh_seconds,
        } => serve(&cli.database_url, &bind, workers, demo, refresh_seconds),
        Command::Migrate => {
            Db::open(&cli.database_url)
                .and_then(|db| db.migrate())
                .map(|applied| {
                    if applied.is_empty() {
                        println!("the database is up to date");
                    }
                    for m in applied {
                        println!("applied {m}");
                    }
                })
        }
        Command::Import { dir, dry_run } => import(&cli.database_url, &dir, dry_run),
        Command::Export { slug, dir } => open(&cli.database_url).and_then(|db| {
            let ds = service::dataset(&db, &slug)?;
            files::write_dir(&ds, &dir)?;
            println!("wrote {} to {}", slug, dir.display());
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn import(url: &str, dir: &std::path::Path, dry_run: bool) -> Result<()> {
    let folder = Folder::read_dir(dir).map_err(Error::Files)?;
    let db = open(url)?;
    let what = if dry_run { "would " } else { "" };
    match service::import(&db, &folder, &actor(), dry_run)? {
        Imported::Published {
            event,
            version,
            sha256,
            report,
        } => {
            if dry_run {
                println!("{event}: new event; would publish version 1");
            } else {
                println!("{event}: published version {version} (sha256 {sha256})");
            }
            print!("{}", report.to_text());
        }
        Imported::Submitted {
            event,
            changeset,
            changes,
            report,
        } => {
            match changeset {
                Some(id) => println!(
                    "{event}: submitted changeset {id} with {} change(s) for review",
                    changes.len()
                ),
                None => println!(
                    "{event}: {what}submit a changeset with {} change(s) for review",
                    changes.len()
                ),
            }
            for ch in &changes {
                println!("  {} {} {}", ch.kind(), ch.table.as_str(), ch.key);
            }
            print!("{}", report.to_text());
        }
        Imported::Unchanged { event } => println!("{event}: nothing to change"),
    }
    Ok(())
}

fn check(url: &str, slug: Option<String>, dir: Option<PathBuf>, format: Format) -> ExitCode {
    let reports = match (slug, dir) {
        (_, Some(dir)) => Folder::read_dir(&dir)
            .and_then(|f| f.parse())
            .map_err(Error::Files)
            .map(|ds| vec![crate::checks::run(&ds)]),
        (Some(slug), None) => open(url)
            .and_then(|db| service::check(&db, &slug))
            .map(|r| vec![r]),
        (None, None) => open(url).and_then(|db| {
            service::events(&db)?
                .iter()
                .map(|s| service::check(&db, s))
                .collect()
        }),
    };
    let reports = match reports {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match format {
        Format::Json => {
            let out = if reports.len() == 1 {
                serde_json::to_string_pretty(&reports[0])
            } else {
                serde_json::to_string_pretty(&reports)
            };
            match out {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        Format::Text => {
            for r in &reports {
                print!("{}", r.to_text());
            }
        }
    }
    if reports.iter().any(|r| r.status == Outcome::Violated) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn serve(
    url: &str,
    bind: &str,
    workers: Option<usize>,
    with_demo: bool,
    refresh_seconds: u64,
) -> Result<()> {
    let db = open(url)?;
    if with_demo && !service::events(&db)?.iter().any(|s| s == demo::SLUG) {
        service::import(&db, &demo::beslan(), &actor(), false)?;
        println!("imported the Beslan demo dataset");
    }
    let state = http::State::load(db)?;
    let workers =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    println!("vigil serving on http://{bind}/");
    actix_web::rt::System::new()
        .block_on(http::serve(
            state,
            bind,
            workers,
            std::time::Duration::from_secs(refresh_seconds.max(1)),
        ))
        .map_err(|e| Error::Io(format!("cannot serve on {bind}: {e}")))
}
