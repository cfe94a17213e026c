//! Import folders: an event as five CSV files (`event.csv`, `sources.csv`,
//! `figures.csv`, `claims.csv`, `rules.csv`), read with every problem named by
//! `file:line:column`, and written back byte for byte the same.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;

use crate::model::{Claim, Dataset, Event, Figure, PartialDate, Rule, Source, Table};

/// The largest CSV file an import accepts.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The columns of each file, in the order exports write them.
pub fn columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Event => &[
            "slug",
            "title",
            "location",
            "started_on",
            "ended_on",
            "timezone",
            "summary",
            "approximation",
        ],
        Table::Sources => &[
            "key",
            "title",
            "author",
            "publisher",
            "kind",
            "published_on",
            "url",
            "notes",
        ],
        Table::Figures => &[
            "key",
            "label",
            "unit",
            "parent",
            "breakdown",
            "position",
            "low",
            "best",
            "high",
            "status",
            "notes",
        ],
        Table::Claims => &[
            "id",
            "figure",
            "source",
            "low",
            "best",
            "high",
            "qualifier",
            "as_of",
            "rank",
            "reason",
            "locator",
            "quote",
            "note",
        ],
        Table::Rules => &["id", "expression", "severity", "note"],
    }
}

/// The columns a file may leave out, for folders written before they were
/// added: an empty value in each.
pub fn optional_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Event => &["approximation"],
        Table::Claims => &["qualifier"],
        Table::Sources | Table::Figures | Table::Rules => &[],
    }
}

/// One problem in an import folder, with where it is. Line and column are
/// 1-based; they are absent when the problem is with the whole file or line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// The five files of an import folder, as bytes, not yet parsed.
#[derive(Debug, Clone, Default)]
pub struct Folder {
    files: BTreeMap<Table, Vec<u8>>,
}

impl Folder {
    /// Holds the given file contents.
    pub fn from_bytes(files: impl IntoIterator<Item = (Table, Vec<u8>)>) -> Self {
        Self {
            files: files.into_iter().collect(),
        }
    }

    /// Reads the five files of `dir`, refusing files over [`MAX_FILE_BYTES`].
    pub fn read_dir(dir: &Path) -> Result<Self, Vec<FileError>> {
        let mut errors = Vec::new();
        let mut files = BTreeMap::new();
        for &table in Table::ALL {
            let path = dir.join(table.file_name());
            let whole = |message: String| FileError {
                file: path.display().to_string(),
                line: None,
                column: None,
                message,
            };
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    errors.push(whole("missing file: an import folder holds event.csv, sources.csv, figures.csv, claims.csv and rules.csv".into()));
                    continue;
                }
                Err(e) => {
                    errors.push(whole(format!("cannot open: {e}")));
                    continue;
                }
            };
            let mut bytes = Vec::new();
            match file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
                Ok(n) if n as u64 > MAX_FILE_BYTES => errors.push(whole(format!(
                    "the file is larger than the limit of {} MiB",
                    MAX_FILE_BYTES / 1024 / 1024
                ))),
                Ok(_) => {
                    files.insert(table, bytes);
                }
                Err(e) => errors.push(whole(format!("cannot read: {e}"))),
            }
        }
        if errors.is_empty() {
            Ok(Self { files })
        } else {
            Err(errors)
        }
    }

    /// Parses and validates the folder: every problem of every file at once.
    pub fn parse(&self) -> Result<Dataset, Vec<FileError>> {
        let mut r = Reader { errors: Vec::new() };
        let mut sheets = BTreeMap::new();
        for &table in Table::ALL {
            match self.files.get(&table) {
                None => r.error(table, None, None, "missing file".into()),
                Some(bytes) if bytes.len() as u64 > MAX_FILE_BYTES => r.error(
                    table,
                    None,
                    None,
                    format!(
                        "the file is larger than the limit of {} MiB",
                        MAX_FILE_BYTES / 1024 / 1024
                    ),
                ),
                Some(bytes) => {
                    if let Some(s) = r.sheet(table, bytes) {
                        sheets.insert(table, s);
                    }
                }
            }
        }
        let (Some(ev), Some(so), Some(fi), Some(cl), Some(ru)) = (
            sheets.get(&Table::Event),
            sheets.get(&Table::Sources),
            sheets.get(&Table::Figures),
            sheets.get(&Table::Claims),
            sheets.get(&Table::Rules),
        ) else {
            return Err(r.errors);
        };
        let event = r.event(ev);
        let sources: Vec<Source> = (0..so.rows.len()).filter_map(|i| r.source(so, i)).collect();
        let figures: Vec<Figure> = (0..fi.rows.len()).filter_map(|i| r.figure(fi, i)).collect();
        let claims: Vec<Claim> = (0..cl.rows.len()).filter_map(|i| r.claim(cl, i)).collect();
        let rules: Vec<Rule> = (0..ru.rows.len()).filter_map(|i| r.rule(ru, i)).collect();
        let Some(event) = event else {
            return Err(r.errors);
        };
        if !r.errors.is_empty() {
            return Err(r.errors);
        }
        let ds = Dataset {
            event,
            sources,
            figures,
            claims,
            rules,
        };
        for p in ds.validate() {
            let sheet = &sheets[&p.table];
            r.errors.push(FileError {
                file: p.table.file_name().to_string(),
                line: sheet.lines.get(p.row).copied(),
                column: sheet.column(p.field),
                message: p.message,
            });
        }
        if r.errors.is_empty() {
            Ok(ds)
        } else {
            Err(r.errors)
        }
    }
}

/// A parsed file: its rows with fields ordered like [`columns`], the line
/// each row starts on, and where each column stands in the file.
struct Sheet {
    table: Table,
    rows: Vec<Vec<String>>,
    lines: Vec<u64>,
    file_columns: Vec<usize>,
}

impl Sheet {
    /// The 1-based column in the file of the named field.
    fn column(&self, name: &str) -> Option<usize> {
        columns(self.table)
            .iter()
            .position(|c| *c == name)
            .and_then(|i| self.file_columns.get(i).copied())
    }
}

/// Collects problems while turning fields into values.
struct Reader {
    errors: Vec<FileError>,
}

impl Reader {
    fn error(&mut self, table: Table, line: Option<u64>, column: Option<usize>, message: String) {
        self.errors.push(FileError {
            file: table.file_name().to_string(),
            line,
            column,
            message,
        });
    }

    /// Reads one file into rows ordered like [`columns`].
    fn sheet(&mut self, table: Table, bytes: &[u8]) -> Option<Sheet> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if let Err(e) = std::str::from_utf8(bytes) {
            let (line, column) = position_of(bytes, e.valid_up_to());
            self.error(
                table,
                Some(line),
                Some(column),
                "invalid UTF-8: files must be UTF-8 text".into(),
            );
            return None;
        }
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(bytes);
        let header = match rdr.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                self.error(
                    table,
                    Some(1),
                    None,
                    format!("cannot read the header row: {e}"),
                );
                return None;
            }
        };
        let wanted = columns(table);
        let mut index: Vec<Option<usize>> = vec![None; wanted.len()];
        let mut bad_header = false;
        for (i, name) in header.iter().enumerate() {
            match wanted.iter().position(|w| *w == name) {
                Some(w) if index[w].is_some() => {
                    self.error(
                        table,
                        Some(1),
                        Some(i + 1),
                        format!("column '{name}' appears twice"),
                    );
                    bad_header = true;
                }
                Some(w) => index[w] = Some(i),
                None => {
                    self.error(
                        table,
                        Some(1),
                        Some(i + 1),
                        format!(
                            "unknown column '{name}'; {} has the columns {}",
                            table.file_name(),
                            wanted.join(", ")
                        ),
                    );
                    bad_header = true;
                }
            }
        }
        let missing: Vec<&str> = wanted
            .iter()
            .zip(&index)
            .filter(|(w, i)| i.is_none() && !optional_columns(table).contains(w))
            .map(|(w, _)| *w)
            .collect();
        if !missing.is_empty() {
            self.error(
                table,
                Some(1),
                None,
                format!("missing column(s): {}", missing.join(", ")),
            );
            bad_header = true;
        }
        if bad_header {
            return None;
        }
        let mut sheet = Sheet {
            table,
            rows: Vec::new(),
            lines: Vec::new(),
            file_columns: index.iter().map(|i| i.map_or(0, |i| i + 1)).collect(),
        };
        for record in rdr.records() {
            match record {
                Ok(r) => {
                    let line = r.position().map_or(0, |p| p.line());
                    if r.len() != header.len() {
                        self.error(
                            table,
                            Some(line),
                            None,
                            format!(
                                "the row has {} fields; the header has {}",
                                r.len(),
                                header.len()
                            ),
                        );
                        continue;
                    }
                    sheet.rows.push(
                        index
                            .iter()
                            .map(|i| i.and_then(|i| r.get(i)).unwrap_or("").to_string())
                            .collect(),
                    );
                    sheet.lines.push(line);
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line());
                    self.error(table, line, None, format!("cannot read the row: {e}"));
                }
            }
        }
        Some(sheet)
    }

    fn field<'s>(&self, s: &'s Sheet, row: usize, name: &str) -> &'s str {
        let i = columns(s.table).iter().position(|c| *c == name);
        i.and_then(|i| s.rows[row].get(i))
            .map_or("", |v| v.as_str())
    }

    fn text(&self, s: &Sheet, row: usize, name: &str) -> String {
        self.field(s, row, name).to_string()
    }

    fn optional_text(&self, s: &Sheet, row: usize, name: &str) -> Option<String> {
        Some(self.field(s, row, name))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// An optional field parsed with `FromStr`; `Err` after recording the problem.
    fn optional<T>(&mut self, s: &Sheet, row: usize, name: &str) -> Result<Option<T>, ()>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let v = self.field(s, row, name);
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<T>().map(Some).map_err(|e| {
            let message = format!("{name}: {e}");
            self.error(s.table, Some(s.lines[row]), s.column(name), message);
        })
    }

    fn required<T>(&mut self, s: &Sheet, row: usize, name: &str) -> Result<T, ()>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.optional(s, row, name)? {
            Some(v) => Ok(v),
            None => {
                self.error(
                    s.table,
                    Some(s.lines[row]),
                    s.column(name),
                    format!("{name} is required"),
                );
                Err(())
            }
        }
    }

    fn number(&mut self, s: &Sheet, row: usize, name: &str) -> Result<Option<i64>, ()> {
        let v = self.field(s, row, name);
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<i64>().map(Some).map_err(|_| {
            let hint = if v.contains([',', ' ', '.']) {
                ": write digits only, without separators or decimals (1128, not 1,128)"
            } else if v
                .trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit())
            {
                ": the number is too large"
            } else {
                ""
            };
            let message = format!("{name}: '{v}' is not a whole number{hint}");
            self.error(s.table, Some(s.lines[row]), s.column(name), message);
        })
    }

    fn event(&mut self, s: &Sheet) -> Option<Event> {
        if s.rows.is_empty() {
            self.error(s.table, None, None, "the file has no event row".into());
            return None;
        }
        if s.rows.len() > 1 {
            self.error(
                s.table,
                Some(s.lines[1]),
                None,
                format!(
                    "event.csv holds exactly one event; found {} rows",
                    s.rows.len()
                ),
            );
            return None;
        }
        let started_on = self.required(s, 0, "started_on");
        let ended_on = self.required(s, 0, "ended_on");
        let approximation = self.optional::<u32>(s, 0, "approximation");
        Some(Event {
            slug: self.text(s, 0, "slug"),
            title: self.text(s, 0, "title"),
            location: self.text(s, 0, "location"),
            started_on: started_on.ok()?,
            ended_on: ended_on.ok()?,
            timezone: self.text(s, 0, "timezone"),
            summary: self.text(s, 0, "summary"),
            approximation: approximation.ok()?,
        })
    }

    fn source(&mut self, s: &Sheet, i: usize) -> Option<Source> {
        let kind = self.required(s, i, "kind");
        let published_on = self.optional::<PartialDate>(s, i, "published_on");
        Some(Source {
            key: self.text(s, i, "key"),
            title: self.text(s, i, "title"),
            author: self.text(s, i, "author"),
            publisher: self.text(s, i, "publisher"),
            kind: kind.ok()?,
            published_on: published_on.ok()?,
            url: self.text(s, i, "url"),
            notes: self.text(s, i, "notes"),
        })
    }

    fn figure(&mut self, s: &Sheet, i: usize) -> Option<Figure> {
        let breakdown = self.optional(s, i, "breakdown");
        let position = self.number(s, i, "position");
        let low = self.number(s, i, "low");
        let best = self.number(s, i, "best");
        let high = self.number(s, i, "high");
        let status = self.required(s, i, "status");
        Some(Figure {
            key: self.text(s, i, "key"),
            label: self.text(s, i, "label"),
            unit: self.text(s, i, "unit"),
            parent: self.optional_text(s, i, "parent"),
            breakdown: breakdown.ok()?,
            position: position.ok()?.unwrap_or(0),
            low: low.ok()?,
            best: best.ok()?,
            high: high.ok()?,
            status: status.ok()?,
            notes: self.text(s, i, "notes"),
        })
    }

    fn claim(&mut self, s: &Sheet, i: usize) -> Option<Claim> {
        let low = self.number(s, i, "low");
        let best = self.number(s, i, "best");
        let high = self.number(s, i, "high");
        let qualifier = self.optional(s, i, "qualifier");
        let as_of = self.optional(s, i, "as_of");
        let rank = self.required(s, i, "rank");
        let reason = self.optional(s, i, "reason");
        Some(Claim {
            id: self.text(s, i, "id"),
            figure: self.text(s, i, "figure"),
            source: self.text(s, i, "source"),
            low: low.ok()?,
            best: best.ok()?,
            high: high.ok()?,
            qualifier: qualifier.ok()?,
            as_of: as_of.ok()?,
            rank: rank.ok()?,
            reason: reason.ok()?,
            locator: self.text(s, i, "locator"),
            quote: self.text(s, i, "quote"),
            note: self.text(s, i, "note"),
        })
    }

    fn rule(&mut self, s: &Sheet, i: usize) -> Option<Rule> {
        let severity = self.required(s, i, "severity");
        Some(Rule {
            id: self.text(s, i, "id"),
            expression: self.text(s, i, "expression"),
            severity: severity.ok()?,
            note: self.text(s, i, "note"),
        })
    }
}

/// Where a byte offset is, as 1-based line and character column.
fn position_of(bytes: &[u8], offset: usize) -> (u64, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

/// The five files of a dataset, in canonical order (see [`Dataset::sort`]).
pub fn write(ds: &Dataset) -> Result<Vec<(Table, Vec<u8>)>, csv::Error> {
    let mut ds = ds.clone();
    ds.sort();
    let opt = |v: &Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let s = |v: &str| v.to_string();
    let mut out = Vec::new();
    let e = &ds.event;
    out.push((
        Table::Event,
        rows(
            Table::Event,
            [vec![
                s(&e.slug),
                s(&e.title),
                s(&e.location),
                e.started_on.to_string(),
                e.ended_on.to_string(),
                s(&e.timezone),
                s(&e.summary),
                e.approximation.map(|a| a.to_string()).unwrap_or_default(),
            ]],
        )?,
    ));
    out.push((
        Table::Sources,
        rows(
            Table::Sources,
            ds.sources.iter().map(|x| {
                vec![
                    s(&x.key),
                    s(&x.title),
                    s(&x.author),
                    s(&x.publisher),
                    x.kind.to_string(),
                    x.published_on.map(|d| d.to_string()).unwrap_or_default(),
                    s(&x.url),
                    s(&x.notes),
                ]
            }),
        )?,
    ));
    out.push((
        Table::Figures,
        rows(
            Table::Figures,
            ds.figures.iter().map(|x| {
                vec![
                    s(&x.key),
                    s(&x.label),
                    s(&x.unit),
                    x.parent.clone().unwrap_or_default(),
                    x.breakdown.map(|b| b.to_string()).unwrap_or_default(),
                    x.position.to_string(),
                    opt(&x.low),
                    opt(&x.best),
                    opt(&x.high),
                    x.status.to_string(),
                    s(&x.notes),
                ]
            }),
        )?,
    ));
    out.push((
        Table::Claims,
        rows(
            Table::Claims,
            ds.claims.iter().map(|x| {
                vec![
                    s(&x.id),
                    s(&x.figure),
                    s(&x.source),
                    opt(&x.low),
                    opt(&x.best),
                    opt(&x.high),
                    x.qualifier.map(|q| q.to_string()).unwrap_or_default(),
                    x.as_of.map(|d| d.to_string()).unwrap_or_default(),
                    x.rank.to_string(),
                    x.reason.map(|r| r.to_string()).unwrap_or_default(),
                    s(&x.locator),
                    s(&x.quote),
                    s(&x.note),
                ]
            }),
        )?,
    ));
    out.push((
        Table::Rules,
        rows(
            Table::Rules,
            ds.rules.iter().map(|x| {
                vec![
                    s(&x.id),
                    s(&x.expression),
                    x.severity.to_string(),
                    s(&x.note),
                ]
            }),
        )?,
    ));
    Ok(out)
}

/// A header and rows as CSV bytes, `\n`-terminated, quoted only where needed.
pub fn rows(
    table: Table,
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(columns(table))?;
    for r in rows {
        w.write_record(&r)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// Writes the dataset's five files into `dir`, creating it if needed.
pub fn write_dir(ds: &Dataset, dir: &Path) -> Result<(), crate::Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| crate::Error::Io(format!("cannot create {}: {e}", dir.display())))?;
    for (table, bytes) in write(ds).map_err(|e| crate::Error::Io(e.to_string()))? {
        let path = dir.join(table.file_name());
        std::fs::write(&path, bytes)
            .map_err(|e| crate::Error::Io(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}
