//! The `vigil` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::accounts::{format_roles, parse_roles, Role, SessionPolicy, SystemClock};
use crate::checks::Outcome;
use crate::error::{Error, Result};
use crate::files::{self, Folder};
use crate::service::reads::Publisher;
use crate::service::Db;
use crate::service::{self, Context, Imported};
use crate::time;
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

    /// How log lines are written to standard error: `text` for people,
    /// `json` (one object per line) for log collectors. `VIGIL_LOG` sets
    /// the level, e.g. `VIGIL_LOG=debug` for a line per request.
    #[arg(
        long,
        global = true,
        env = "VIGIL_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Sets up logging to standard error, as `format` says: `VIGIL_LOG`
/// (`info` by default) names the level, or levels by target
/// (`vigil=debug,actix_server=warn`). Lines written while a request is
/// handled carry its id ([`crate::logging`]).
pub fn init_logging(format: LogFormat) {
    use crate::logging::{Shape, WithRequestId};
    use tracing_subscriber::fmt::format as line;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Levels by target only: a filter that also matches span fields would
    // track every span, and costs every request its share.
    let filter: tracing_subscriber::filter::Targets = std::env::var("VIGIL_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO)
        });
    // Colours only for a person at a terminal: a log file or a collector
    // gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let registry = tracing_subscriber::registry().with(filter);
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => registry
            .with(layer.event_format(WithRequestId::new(line().with_ansi(ansi), Shape::Text)))
            .init(),
        LogFormat::Json => registry
            .with(layer.json().event_format(WithRequestId::new(
                line().json().with_current_span(false).with_span_list(false),
                Shape::Json,
            )))
            .init(),
    }
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
        #[command(flatten)]
        web: WebOptions,
        /// The checkpoint signing key; made (mode 0600) when missing.
        #[command(flatten)]
        key: KeyOption,
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
        /// The checkpoint signing key; a publish is followed by a checkpoint.
        #[command(flatten)]
        key: KeyOption,
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
    /// Write everything (events, every version, changesets, users, the audit
    /// log and its checkpoints) to one archive, read in one consistent
    /// transaction. Without --with-secrets, passwords and API tokens are left
    /// out. The file is made with mode 0600 and never overwritten.
    Backup {
        /// The archive to write.
        file: PathBuf,
        /// Include password hashes and API tokens (to move a deployment with
        /// its accounts); keep such an archive as safe as the database.
        #[arg(long)]
        with_secrets: bool,
        /// The checkpoint signing key, whose public half the archive names.
        #[command(flatten)]
        key: KeyOption,
    },
    /// Restore an archive into an empty database (migrated first), all or
    /// nothing: every line, version hash and the audit log's tree are
    /// checked before anything is kept. Also moves a deployment from SQLite
    /// to PostgreSQL.
    Restore {
        /// The archive to read.
        file: PathBuf,
        /// The public key that signed the archive's checkpoints
        /// (`name+keyid+base64`); else the key file's, else the archive's.
        #[arg(long)]
        public_key: Option<String>,
        /// The checkpoint signing key: signs a checkpoint after the restore.
        #[command(flatten)]
        key: KeyOption,
    },
    /// Manage the accounts of curators, reviewers, auditors and admins.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The tamper-evident audit log: keys, checkpoints, verification, export.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Make the Ed25519 key that signs checkpoints (a file with mode 0600,
    /// never overwritten); prints the public verifier key.
    Keygen {
        #[command(flatten)]
        key: KeyOption,
        /// The log's name in checkpoints (their origin line).
        #[arg(long, default_value = "vigil/audit")]
        name: String,
    },
    /// Sign a checkpoint of the log now, if it grew since the last one.
    Checkpoint {
        #[command(flatten)]
        key: KeyOption,
    },
    /// Recompute every leaf and the tree, check every stored checkpoint's
    /// signature and root; with --checkpoint, prove the log extends a
    /// checkpoint saved earlier. Exits 0 only when all holds.
    Verify {
        #[command(flatten)]
        key: KeyOption,
        /// The public verifier key (`name+keyid+base64`), instead of reading
        /// the signing key file.
        #[arg(long)]
        public_key: Option<String>,
        /// A signed checkpoint saved earlier (from /api/v1/audit/checkpoint).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Write the log as JSON Lines (one canonical entry per line) or CSV.
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

/// Where the checkpoint signing key is: outside the database.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyOption {
    /// The signing key file.
    #[arg(long = "audit-key", env = "VIGIL_AUDIT_KEY", default_value = service::audit::DEFAULT_KEY_FILE)]
    pub path: PathBuf,
}

/// How the admin side is served.
#[derive(Debug, Clone, clap::Args)]
pub struct WebOptions {
    /// Plain-HTTP deployments other than localhost: send the session cookie
    /// without `Secure` (and so without the `__Host-` prefix). Never behind TLS.
    #[arg(long, env = "VIGIL_INSECURE_COOKIES")]
    pub insecure_cookies: bool,
    /// The service is reached over HTTPS (TLS ends at a proxy in front of
    /// it): send Strict-Transport-Security.
    #[arg(long, env = "VIGIL_TLS")]
    pub tls: bool,
    /// Minutes without a request after which a session ends.
    #[arg(long, default_value_t = 30)]
    pub session_idle_minutes: i64,
    /// Hours after log-in after which a session ends, however active.
    #[arg(long, default_value_t = 12)]
    pub session_max_hours: i64,
    /// Memory for old versions read (`?version=N`), in MB: the least
    /// recently read are dropped beyond it. The latest of each event is
    /// always held, outside this budget.
    #[arg(long, env = "VIGIL_VERSION_CACHE_MB", default_value_t = 64)]
    pub version_cache_mb: usize,
    /// Serve `/metrics` on this address (e.g. 127.0.0.1:9090) instead of
    /// the public one, for deployments that keep it private.
    #[arg(long, value_name = "ADDR")]
    pub metrics_bind: Option<String>,
    /// Reverse proxies in front of vigil (addresses or blocks, e.g.
    /// 10.0.0.0/8): only requests from them have their `X-Forwarded-For`
    /// believed, and the client is its right-most hop that is not one of
    /// them. Without it the peer's address is the client's.
    #[arg(long = "trusted-proxy", value_name = "CIDR", num_args = 1..)]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from a prompt, or from standard
    /// input when that is not a terminal; never from the command line.
    Add {
        name: String,
        /// One or more of admin, curator, reviewer, auditor.
        #[arg(long = "role", required = true, num_args = 1..)]
        roles: Vec<String>,
    },
    /// Disable a user: they can no longer log in, and their sessions end.
    Disable { name: String },
    /// Enable a disabled user again.
    Enable { name: String },
    /// Set a new password (read like `add`'s); the user's sessions end.
    ResetPassword { name: String },
    /// Replace a user's roles.
    Roles {
        name: String,
        #[arg(long = "role", required = true, num_args = 1..)]
        roles: Vec<String>,
    },
    /// List users and their roles.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for automation; it is printed once.
    Create {
        name: String,
        #[arg(long = "role", required = true, num_args = 1..)]
        roles: Vec<String>,
        /// The person the token acts for: its edits count as theirs for
        /// four-eyes review, and disabling them revokes it. Without it the
        /// token counts as a person of its own.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Revoke a token; it stops working at once.
    Revoke { name: String },
    /// List tokens (never the tokens themselves).
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn roles(words: &[String]) -> Result<Vec<Role>> {
    parse_roles(&words.join(" ")).map_err(Error::BadRequest)
}

/// Reads a password: from a prompt without echo (asked twice) on a
/// terminal, else the first line of standard input.
fn read_password(name: &str) -> Result<String> {
    use std::io::{BufRead, IsTerminal};
    let io = |e: std::io::Error| Error::Io(format!("cannot read the password: {e}"));
    if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password(format!("password for {name}: ")).map_err(io)?;
        let b = rpassword::prompt_password("again: ").map_err(io)?;
        if a != b {
            return Err(Error::BadRequest("the two passwords differ".into()));
        }
        crate::text::check("password", &a)?;
        Ok(a)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(io)?;
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        // The text policy of every entry point: no NUL, within its limit.
        crate::text::check("password", &password)?;
        Ok(password)
    }
}

fn user(url: &str, cmd: UserCommand) -> Result<()> {
    let db = open(url)?;
    let (ctx, me) = service::operator();
    match cmd {
        UserCommand::Add { name, roles: r } => {
            crate::text::check("name", &name)?;
            let r = roles(&r)?;
            let password = read_password(&name)?;
            let u = service::accounts::add_user(&db, &ctx, &me, &name, &password, &r)?;
            println!("added {} ({})", u.name, format_roles(&u.roles));
        }
        UserCommand::Disable { name } => {
            service::accounts::set_disabled(&db, &ctx, &me, &name, true)?;
            println!("disabled {name}; their sessions have ended");
        }
        UserCommand::Enable { name } => {
            service::accounts::set_disabled(&db, &ctx, &me, &name, false)?;
            println!("enabled {name}");
        }
        UserCommand::ResetPassword { name } => {
            service::accounts::user(&db, &me, &name)?;
            let password = read_password(&name)?;
            service::accounts::reset_password(&db, &ctx, &me, &name, &password)?;
            println!("set a new password for {name}; their sessions have ended");
        }
        UserCommand::Roles { name, roles: r } => {
            let u = service::accounts::set_roles(&db, &ctx, &me, &name, &roles(&r)?)?;
            println!("{} now has: {}", u.name, format_roles(&u.roles));
        }
        UserCommand::List => {
            for u in service::accounts::users(&db, &me)? {
                println!(
                    "{}\t{}{}",
                    u.name,
                    format_roles(&u.roles),
                    if u.disabled { "\tdisabled" } else { "" }
                );
            }
        }
    }
    Ok(())
}

fn token(url: &str, cmd: TokenCommand) -> Result<()> {
    let db = open(url)?;
    let (ctx, me) = service::operator();
    match cmd {
        TokenCommand::Create {
            name,
            roles: r,
            owner,
        } => {
            crate::text::check("name", &name)?;
            let (t, secret) = service::accounts::create_token(
                &db,
                &ctx,
                &me,
                &name,
                &roles(&r)?,
                owner.as_deref(),
            )?;
            eprintln!(
                "created token {} ({}); it is shown this once, keep it safe:",
                t.name,
                format_roles(&t.roles)
            );
            println!("{secret}");
        }
        TokenCommand::Revoke { name } => {
            service::accounts::revoke_token(&db, &ctx, &me, &name)?;
            println!("revoked {name}");
        }
        TokenCommand::List => {
            for t in service::accounts::tokens(&db, &me)? {
                println!(
                    "{}\t{}\tcreated {} by {}{}",
                    t.name,
                    format_roles(&t.roles),
                    time::secs(t.created_at),
                    t.created_by,
                    t.revoked_at
                        .map(|r| format!("\trevoked {}", time::secs(r)))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(())
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
            web,
            key,
        } => serve(
            &cli.database_url,
            &bind,
            workers,
            demo,
            refresh_seconds,
            &web,
            &key.path,
        ),
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
        Command::Import { dir, dry_run, key } => {
            import(&cli.database_url, &dir, dry_run, &key.path)
        }
        Command::Backup {
            file,
            with_secrets,
            key,
        } => backup(&cli.database_url, &file, with_secrets, &key.path),
        Command::Restore {
            file,
            public_key,
            key,
        } => restore(&cli.database_url, &file, public_key.as_deref(), &key.path),
        Command::User(cmd) => user(&cli.database_url, cmd),
        Command::Token(cmd) => token(&cli.database_url, cmd),
        Command::Audit(cmd) => return audit(&cli.database_url, cmd),
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

fn backup(
    url: &str,
    file: &std::path::Path,
    with_secrets: bool,
    key: &std::path::Path,
) -> Result<()> {
    use std::io::Write;
    let db = open(url)?;
    let verifier = if key.exists() {
        Some(service::audit::load_key(key)?.verifier())
    } else {
        None
    };
    // Written beside the target and renamed into place when complete, so a
    // failed backup never leaves a file that looks like an archive.
    let partial = file.with_extension("partial");
    let io =
        |what: &str, e: std::io::Error| Error::Io(format!("cannot {what} {}: {e}", file.display()));
    if file.exists() {
        return Err(Error::BadRequest(format!(
            "{} exists; a backup never overwrites a file",
            file.display()
        )));
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let f = options.open(&partial).map_err(|e| io("create", e))?;
    let mut out = std::io::BufWriter::new(f);
    let done = service::backup::backup(
        &db,
        &Context::cli(),
        with_secrets,
        verifier.as_ref(),
        &mut out,
    )
    .and_then(|done| {
        let f = out.into_inner().map_err(|e| io("write", e.into_error()))?;
        f.sync_all().map_err(|e| io("write", e))?;
        std::fs::rename(&partial, file).map_err(|e| io("write", e))?;
        Ok(done)
    });
    let done = match done {
        Ok(d) => d,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let total: i64 = done.rows.values().sum();
    println!(
        "wrote {} ({} rows, {} bytes, sha256 {}){}",
        file.display(),
        total,
        done.bytes,
        done.sha256,
        if with_secrets {
            "; it holds password hashes and API tokens: keep it safe"
        } else {
            "; without passwords and API tokens"
        }
    );
    for (table, n) in &done.rows {
        println!("  {table}: {n}");
    }
    std::io::stdout().flush().ok();
    Ok(())
}

fn restore(
    url: &str,
    file: &std::path::Path,
    public_key: Option<&str>,
    key: &std::path::Path,
) -> Result<()> {
    let signer = if key.exists() {
        Some(service::audit::load_key(key)?)
    } else {
        None
    };
    let verifier = match public_key {
        Some(k) => Some(
            crate::audit::checkpoint::VerifierKey::parse(k)
                .map_err(|e| Error::BadRequest(format!("--public-key: {e}")))?,
        ),
        None => signer.as_ref().map(|k| k.verifier()),
    };
    // The new checkpoint must verify under the key the log is checked with:
    // a signing key whose public half is another is refused before anything
    // is written.
    if let (Some(s), Some(v)) = (&signer, &verifier) {
        if s.verifier() != *v {
            return Err(Error::BadRequest(format!(
                "the signing key in {} is {}, not the --public-key {v}: a checkpoint it signed \
                 would not verify under either. Pass the file of the key {v} with --audit-key FILE \
                 (`vigil audit keygen` printed it when it made that file)",
                key.display(),
                s.verifier()
            )));
        }
    }
    let f = std::fs::File::open(file)
        .map_err(|e| Error::Io(format!("cannot open {}: {e}", file.display())))?;
    let db = open(url)?;
    let restored = service::backup::restore(
        &db,
        &Context::cli(),
        &file.display().to_string(),
        &mut std::io::BufReader::new(f),
        verifier.as_ref(),
    )?;
    let total: i64 = restored.rows.values().sum();
    println!(
        "restored {} rows from {} (taken at {} from {})",
        total,
        file.display(),
        time::secs(restored.header.created_at),
        restored.header.from
    );
    for (event, number, sha256) in &restored.versions {
        println!("  {event} version {number}: sha256 {sha256}");
    }
    println!(
        "  audit log: {} entries and {} checkpoint(s) match{}",
        restored.audit_entries,
        restored.checkpoints,
        if restored.signatures_checked {
            ", signatures verified"
        } else {
            "; no key was known, so the signatures were not checked"
        }
    );
    if !restored.without_password.is_empty() {
        println!(
            "  {} user(s) have no password (the archive has no secrets); set one with `vigil user reset-password NAME`: {}",
            restored.without_password.len(),
            restored.without_password.join(", ")
        );
    }
    match signer {
        Some(k) => {
            service::audit::checkpoint(&db, &k, chrono::Utc::now())?;
        }
        None => {
            if let Some(k) = &restored.header.audit_key {
                println!(
                    "  the checkpoints were signed by {k}; put that key's file at {} before serving, \
                     or new checkpoints will be signed by a new key",
                    key.display()
                );
            }
        }
    }
    Ok(())
}

fn import(url: &str, dir: &std::path::Path, dry_run: bool, key: &std::path::Path) -> Result<()> {
    let folder = Folder::read_dir(dir).map_err(Error::Files)?;
    let db = open(url)?;
    let what = if dry_run { "would " } else { "" };
    // A publish is followed by a checkpoint: the signing key is needed
    // unless this is a dry run.
    let signer = if dry_run {
        None
    } else {
        let (k, made) = service::audit::load_or_create_key(key, "vigil/audit")?;
        if made {
            println!("made the audit signing key {}", key.display());
        }
        Some(k)
    };
    let imported = Publisher {
        db: &db,
        reads: None,
        key: signer.as_ref(),
        now: chrono::Utc::now(),
    }
    .import(&Context::cli(), &folder, dry_run)?;
    match imported {
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
    web: &WebOptions,
    key_path: &std::path::Path,
) -> Result<()> {
    let db = open(url)?;
    // The stored audit tree of a log written before it existed, or
    // restored without it: filled in once, so that checkpoints and proofs
    // read O(log n) nodes.
    let made = service::audit::complete_tree(&db)?;
    if made > 0 {
        println!("stored {made} nodes of the audit log's tree");
    }
    if with_demo && !service::events(&db)?.iter().any(|s| s == demo::SLUG) {
        service::import(&db, &Context::cli(), &demo::beslan(), false)?;
        println!("imported the Beslan demo dataset");
    }
    let config = http::Config {
        secure_cookies: !web.insecure_cookies,
        tls: web.tls,
        sessions: SessionPolicy {
            idle: chrono::Duration::minutes(web.session_idle_minutes.max(1)),
            absolute: chrono::Duration::hours(web.session_max_hours.max(1)),
        },
        version_cache_bytes: web.version_cache_mb.saturating_mul(1 << 20),
        metrics_elsewhere: web.metrics_bind.is_some(),
    };
    let trusted_proxies = web
        .trusted_proxies
        .iter()
        .map(|c| c.parse::<http::proxy::Cidr>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::BadRequest(format!("--trusted-proxy: {e}")))?;
    let (key, made) = service::audit::load_or_create_key(key_path, "vigil/audit")?;
    if made {
        println!(
            "made the audit signing key {} (keep it outside the database, and back it up); public key: {}",
            key_path.display(),
            key.verifier()
        );
    }
    let mut state = http::AppState::with_config(db, config, std::sync::Arc::new(SystemClock))?;
    state.audit_key = Some(std::sync::Arc::new(key));
    state.trusted_proxies = trusted_proxies;
    state.publisher().checkpoint(true)?;
    if let Some(token) = state.setup_token()? {
        println!(
            "No accounts yet. Create the first admin at http://{bind}/admin/setup \
             with this one-time setup token: {token}"
        );
    }
    let workers =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    println!("vigil serving on http://{bind}/");
    actix_web::rt::System::new()
        .block_on(http::serve(
            state,
            bind,
            workers,
            std::time::Duration::from_secs(refresh_seconds.max(1)),
            web.metrics_bind.as_deref(),
        ))
        .map_err(|e| Error::Io(format!("cannot serve on {bind}: {e}")))
}

fn audit(url: &str, cmd: AuditCommand) -> ExitCode {
    let result = (|| -> Result<ExitCode> {
        match cmd {
            AuditCommand::Keygen { key, name } => {
                let v = service::audit::keygen(&key.path, &name)?;
                eprintln!("wrote {} (mode 0600); its public key:", key.path.display());
                println!("{v}");
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Checkpoint { key } => {
                let db = open(url)?;
                let k = service::audit::load_key(&key.path)?;
                match service::audit::checkpoint(&db, &k, chrono::Utc::now())? {
                    Some(cp) => print!("{}", cp.note),
                    None => eprintln!("the log has not grown since the last checkpoint"),
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Verify {
                key,
                public_key,
                checkpoint,
            } => {
                let db = open(url)?;
                let verifier = match public_key {
                    Some(p) => crate::audit::checkpoint::VerifierKey::parse(&p)
                        .map_err(|e| Error::BadRequest(e.to_string()))?,
                    None => service::audit::load_key(&key.path)?.verifier(),
                };
                let saved = checkpoint
                    .map(|p| {
                        std::fs::read_to_string(&p)
                            .map_err(|e| Error::Io(format!("cannot read {}: {e}", p.display())))
                    })
                    .transpose()?;
                let v = service::audit::verify(
                    &db,
                    &service::operator().1,
                    &verifier,
                    saved.as_deref(),
                )?;
                if v.holds() {
                    println!(
                        "the audit log holds: {} entries, {} signed checkpoint(s){}",
                        v.entries,
                        v.checkpoints,
                        if saved.is_some() {
                            "; it extends the saved checkpoint"
                        } else {
                            ""
                        }
                    );
                    Ok(ExitCode::SUCCESS)
                } else {
                    println!("the audit log does NOT hold ({} entries read):", v.entries);
                    for p in &v.problems {
                        println!("  {p}");
                    }
                    Ok(ExitCode::from(1))
                }
            }
            AuditCommand::Export { format, output } => {
                let db = open(url)?;
                let csv = format == ExportFormat::Csv;
                let n = match output {
                    Some(p) => {
                        let mut f = std::fs::File::create(&p)
                            .map_err(|e| Error::Io(format!("cannot write {}: {e}", p.display())))?;
                        service::audit::export(&db, &service::operator().1, csv, &mut f)?
                    }
                    None => service::audit::export(
                        &db,
                        &service::operator().1,
                        csv,
                        &mut std::io::stdout().lock(),
                    )?,
                };
                eprintln!("exported {n} entries");
                Ok(ExitCode::SUCCESS)
            }
        }
    })();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
