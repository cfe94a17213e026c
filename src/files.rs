//! Import folders: an event as five CSV files (`event.csv`, `sources.csv`,
//! `figures.csv`, `claims.csv`, `rules.csv`), read with every problem named by
//! `file:line:column`, and written back byte for byte the same.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::model::item::{from_cells, to_cells, with_kind, Kind};
use crate::model::{Dataset, Table};

/// The largest CSV file an import accepts.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The columns of each file, in the order exports write them: the fields
/// of the table's kind ([`crate::model::Kind::FIELDS`]).
pub fn columns(table: Table) -> Vec<&'static str> {
    crate::model::item::fields(table)
        .iter()
        .map(|f| f.name)
        .collect()
}

/// The columns a file may leave out, for folders written before they were
/// added: an empty value in each.
pub fn optional_columns(table: Table) -> &'static [&'static str] {
    with_kind!(table, K => K::OPTIONAL_COLUMNS)
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
        let events = r.items::<crate::model::Event>(ev);
        let sources = r.items(so);
        let figures = r.items(fi);
        let claims = r.items(cl);
        let rules = r.items(ru);
        if ev.rows.len() > 1 {
            r.error(
                ev.table,
                Some(ev.lines[1]),
                None,
                format!(
                    "event.csv holds exactly one event; found {} rows",
                    ev.rows.len()
                ),
            );
        } else if ev.rows.is_empty() {
            r.error(ev.table, None, None, "the file has no event row".into());
        }
        let event = match <[crate::model::Event; 1]>::try_from(events) {
            Ok([event]) if r.errors.is_empty() => event,
            _ => return Err(r.errors),
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

    /// Every row of a file as items of its kind; the rows with problems
    /// are left out, each problem recorded at its line and column.
    fn items<K: Kind>(&mut self, s: &Sheet) -> Vec<K> {
        let names = columns(s.table);
        let mut out = Vec::with_capacity(s.rows.len());
        for (row, line) in s.rows.iter().zip(&s.lines) {
            let cell = |name: &str| {
                names
                    .iter()
                    .position(|c| *c == name)
                    .and_then(|i| row.get(i))
                    .map_or("", String::as_str)
            };
            match from_cells(s.table, cell).map(serde_json::from_value::<K>) {
                Ok(Ok(item)) => out.push(item),
                Ok(Err(e)) => self.error(s.table, Some(*line), None, e.to_string()),
                Err(problems) => {
                    for (field, message) in problems {
                        self.error(s.table, Some(*line), s.column(field), message);
                    }
                }
            }
        }
        out
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

fn file_of<K: Kind>(ds: &Dataset) -> Result<Vec<u8>, csv::Error> {
    let cells = K::of(ds)
        .iter()
        .map(to_cells)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| csv::Error::from(std::io::Error::other(e)))?;
    rows(K::TABLE, cells)
}

/// The five files of a dataset, in canonical order (see [`Dataset::sort`]).
pub fn write(ds: &Dataset) -> Result<Vec<(Table, Vec<u8>)>, csv::Error> {
    let mut ds = ds.clone();
    ds.sort();
    Table::ALL
        .iter()
        .map(|&t| Ok((t, with_kind!(t, K => file_of::<K>(&ds))?)))
        .collect()
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
