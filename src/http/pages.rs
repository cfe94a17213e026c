//! The memorial pages, rendered on the server: readable without JavaScript,
//! on a phone and in print, with semantic tables and an inline SVG chart.
//! The toll comes first, the figures follow in sections, the version and
//! its hash come last. Every piece of the pages' own text comes from the
//! [catalogue](super::catalogue).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use askama::Template;

use super::catalogue::{self, Catalogue};
use crate::checks::{CheckResult, Class, Report};
use crate::document::VersionSummary;
use crate::model::{group, Change, Claim, Dataset, Figure, PartialDate, Source, Table};

/// How many key figures the toll at the top shows: the heads of the first
/// sections, in the dataset's order (curators put the toll first).
pub const TOLL_FIGURES: usize = 3;

/// The memorial page of a version as HTML: what the read model holds
/// (see [`crate::service::reads::RenderPage`]). `latest` is the latest
/// version number when the page is made: an older version says so at the
/// top.
pub fn render_event_page(
    ds: &Dataset,
    version: i64,
    latest: i64,
    published_at: chrono::DateTime<chrono::Utc>,
    sha256: &str,
    report: &Report,
) -> crate::error::Result<String> {
    event_page(ds, version, latest, published_at, sha256, report)
        .render()
        .map_err(|e| {
            crate::error::Error::Io(format!("rendering the page of {}: {e}", ds.event.slug))
        })
}

/// The stylesheet of the public pages.
pub const STYLESHEET: &str = include_str!("static/vigil.css");

/// The icon of the public pages, a plain candle-like mark.
pub const FAVICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" fill="#fff"/><rect x="7" y="6" width="2" height="9" fill="#1a1a1a"/><path d="M8 1c1.5 2 1.5 3.5 0 4.5C6.5 4.5 6.5 3 8 1z" fill="#1a1a1a"/></svg>"##;

/// A UTC time in words: "1 December 2026, 05:49 UTC".
pub fn time_in_words(t: &Catalogue, at: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    t.fill(
        "time.published",
        &[
            ("day", &at.day().to_string()),
            ("month", t.get(&format!("month.{}", at.month()))),
            ("year", &at.year().to_string()),
            ("hh", &format!("{:02}", at.hour())),
            ("mm", &format!("{:02}", at.minute())),
        ],
    )
}

/// A date with its source's precision, in words: "3 September 2004",
/// "September 2004", "2004".
pub fn date_in_words(t: &Catalogue, d: &PartialDate) -> String {
    // The date's own form is YYYY, YYYY-MM or YYYY-MM-DD.
    let text = d.to_string();
    let parts: Vec<&str> = text.split('-').collect();
    let month = |m: &str| {
        m.parse::<u32>()
            .map(|m| t.get(&format!("month.{m}")).to_string())
            .unwrap_or_default()
    };
    match parts.as_slice() {
        [y, m, day] => format!("{} {} {y}", day.trim_start_matches('0'), month(m)),
        [y, m] => format!("{} {y}", month(m)),
        _ => text,
    }
}

/// One claim as a reader sees it.
pub struct ClaimView {
    pub value: String,
    pub source: String,
    /// The source's key, for the link to its entry on the page.
    pub source_key: String,
    pub as_of: String,
    pub locator: String,
    pub quote: String,
    pub note: String,
    /// `preferred`, `normal` or `deprecated` (a class and a legend anchor).
    pub rank: &'static str,
    /// The rank in words.
    pub rank_text: &'static str,
    /// For a claim set aside: "set aside: discredited", and the reason's
    /// word for its legend anchor.
    pub set_aside: Option<(String, &'static str)>,
}

/// One row of a section's table.
pub struct FigureView {
    pub key: String,
    pub label: String,
    pub depth: usize,
    pub value: String,
    /// The implied range, when narrower than the curated one; else empty.
    pub implied: String,
    /// `confirmed`, `estimate` or `disputed` (a class and a legend anchor).
    pub status: &'static str,
    pub status_text: &'static str,
    pub notes: String,
    pub claims: Vec<ClaimView>,
    /// Open questions about this figure, in words.
    pub questions: Vec<String>,
}

/// A group of figures: a top-level figure with parts, its parts, and the
/// figures that stand alone after it.
pub struct Section {
    pub id: String,
    pub caption: String,
    pub figures: Vec<FigureView>,
}

/// A key figure of the toll.
pub struct TollView {
    pub key: String,
    pub label: String,
    /// The published number: `best`, or the range when there is none.
    pub value: String,
    /// "sources say 334–335" when the figure has a range beside its best.
    pub range: String,
    /// "186 of them: Children aged 1 to 17".
    pub part: String,
}

/// A figure whose sources give different values.
pub struct DisputeView {
    pub key: String,
    pub label: String,
    pub value: String,
    pub claims: Vec<ClaimView>,
}

/// A source in the list of sources.
pub struct SourceView {
    pub key: String,
    pub title: String,
    /// Author and publisher, once when they are the same.
    pub byline: String,
    pub kind: String,
    pub published: String,
    pub url: String,
    pub notes: String,
}

/// A term of the legend and what it means.
pub struct LegendItem {
    pub id: String,
    pub term: &'static str,
    pub help: &'static str,
}

#[derive(Template)]
#[template(path = "event.html")]
pub struct EventPage {
    pub t: &'static Catalogue,
    pub slug: String,
    pub title: String,
    pub location: String,
    pub dates: String,
    pub timezone: String,
    pub summary: String,
    pub version: i64,
    pub latest: i64,
    pub published: String,
    pub sha256: String,
    pub toll: Vec<TollView>,
    pub sections: Vec<Section>,
    pub chart: Option<String>,
    pub disputes: Vec<DisputeView>,
    pub sources: Vec<SourceView>,
    pub legend_status: Vec<LegendItem>,
    pub legend_rank: Vec<LegendItem>,
    pub legend_reason: Vec<LegendItem>,
    /// Open questions tied to no one figure.
    pub questions: Vec<String>,
    /// Every open question, those on figures included.
    pub question_count: usize,
}

impl EventPage {
    /// "Version 1 of 3, published …; the latest is version 3."
    fn old_banner(&self) -> String {
        self.t.fill(
            "event.old_version",
            &[
                ("version", &self.version.to_string()),
                ("latest", &self.latest.to_string()),
                ("published", &self.published),
            ],
        )
    }
    fn section_caption(&self, section: &str) -> String {
        self.t.fill(
            "event.figures_caption",
            &[("section", section), ("version", &self.version.to_string())],
        )
    }
    fn dispute_caption(&self, value: &str) -> String {
        self.t.fill("event.disagree_caption", &[("value", value)])
    }
    fn claims_summary(&self, count: usize) -> String {
        self.t
            .fill("event.claims_summary", &[("count", &count.to_string())])
    }
    fn questions_summary(&self) -> String {
        self.t.fill(
            "event.questions_summary",
            &[("count", &self.questions.len().to_string())],
        )
    }
    fn about_version(&self) -> String {
        self.t.fill(
            "event.about_version",
            &[
                ("version", &self.version.to_string()),
                ("published", &self.published),
            ],
        )
    }
    fn about_disagree(&self) -> String {
        if self.disputes.is_empty() {
            return self.t.get("event.about_disagree_none").to_string();
        }
        self.t.fill(
            "event.about_disagree",
            &[("count", &self.disputes.len().to_string())],
        )
    }
    fn about_questions(&self) -> String {
        self.t.fill(
            "event.about_questions",
            &[("count", &self.question_count.to_string())],
        )
    }
}

/// An event on the front page.
pub struct EventLink {
    pub slug: String,
    pub title: String,
    pub version: String,
    pub published: String,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub t: &'static Catalogue,
    pub events: Vec<EventLink>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub t: &'static Catalogue,
    pub status: u16,
    pub title: String,
    pub detail: String,
}

/// One version in the history.
pub struct VersionView {
    pub number: String,
    /// The version before it, when there is one (for its changes).
    pub previous: Option<String>,
    pub published: String,
    pub reason: String,
    pub sha256: String,
    pub latest: bool,
}

#[derive(Template)]
#[template(path = "history.html")]
pub struct HistoryPage {
    pub t: &'static Catalogue,
    pub slug: String,
    pub title: String,
    /// Newest first.
    pub versions: Vec<VersionView>,
}

impl HistoryPage {
    fn heading(&self) -> String {
        self.t.fill("history.title", &[("title", &self.title)])
    }
    fn version_heading(&self, n: &str) -> String {
        self.t.fill("history.version", &[("version", n)])
    }
    fn published(&self, at: &str) -> String {
        self.t.fill("history.published", &[("published", at)])
    }
    fn read_version(&self, n: &str) -> String {
        self.t.fill("history.read", &[("version", n)])
    }
    fn changes_from(&self, n: &str) -> String {
        self.t.fill("history.changes", &[("from", n)])
    }
}

/// One line of a difference: an item, what happened to it, before and after.
pub struct ChangeView {
    pub item: String,
    pub anchor: String,
    pub change: &'static str,
    pub before: String,
    pub after: String,
}

/// The changes to one kind of item.
pub struct ChangeGroup {
    pub id: &'static str,
    pub caption: &'static str,
    pub changes: Vec<ChangeView>,
}

#[derive(Template)]
#[template(path = "diff.html")]
pub struct DiffPage {
    pub t: &'static Catalogue,
    pub slug: String,
    pub title: String,
    pub from: String,
    pub to: String,
    pub groups: Vec<ChangeGroup>,
}

impl DiffPage {
    fn heading(&self) -> String {
        self.t
            .fill("diff.title", &[("from", &self.from), ("to", &self.to)])
    }
    fn back(&self) -> String {
        self.t.fill("diff.back", &[("title", &self.title)])
    }
}

fn value_with_unit(t: &Catalogue, f: &Figure, value: &crate::model::Value) -> String {
    with_unit(&f.unit, value_words(t, value))
}

/// A number with its digits grouped as the language groups them: "1,128".
fn number(t: &Catalogue, n: impl Into<i128>) -> String {
    group(n).replace(',', t.get("number.thousands"))
}

/// A value in the page's words: "334", "800+", "58–76",
/// "1,100 (1,000–1,200)", "up to 400".
fn value_words(t: &Catalogue, v: &crate::model::Value) -> String {
    let range = match (v.low, v.high) {
        (Some(l), Some(h)) if l == h => number(t, l),
        (Some(l), Some(h)) => t.fill(
            "value.range",
            &[("low", &number(t, l)), ("high", &number(t, h))],
        ),
        (Some(l), None) => t.fill("value.at_least", &[("low", &number(t, l))]),
        (None, Some(h)) => t.fill("value.up_to", &[("high", &number(t, h))]),
        (None, None) => t.get("value.unknown").to_string(),
    };
    match v.best {
        None => range,
        Some(b) if v.low.is_none() && v.high.is_none() => number(t, b),
        Some(b) => t.fill(
            "value.best_of",
            &[("best", &number(t, b)), ("range", &range)],
        ),
    }
}

/// A claim as its source states it, in the page's words: "about 160",
/// "more than 1,100", "fewer than 50", "58–76".
fn stated_words(t: &Catalogue, c: &Claim) -> String {
    use crate::model::Qualifier;
    let v = c.value();
    match (c.qualifier, v.low, v.high) {
        (None, _, _) => value_words(t, &v),
        (Some(Qualifier::Approximate), _, _) => {
            t.fill("stated.about", &[("value", &value_words(t, &v))])
        }
        (Some(Qualifier::MoreThan), Some(l), _) => {
            t.fill("stated.more_than", &[("value", &number(t, l))])
        }
        (Some(Qualifier::FewerThan), _, Some(h)) => {
            t.fill("stated.fewer_than", &[("value", &number(t, h))])
        }
        (Some(q), _, _) => t.fill(
            "stated.other",
            &[
                ("value", &value_words(t, &v)),
                ("qualifier", t.get(&format!("qualifier.{q}"))),
            ],
        ),
    }
}

fn with_unit(unit: &str, value: String) -> String {
    match unit {
        "persons" | "" => value,
        "percent" => format!("{value}%"),
        unit => format!("{value} {unit}"),
    }
}

fn claim_view(t: &Catalogue, c: &Claim, f: &Figure, sources: &HashMap<&str, &Source>) -> ClaimView {
    let s = sources.get(c.source.as_str());
    ClaimView {
        value: with_unit(&f.unit, stated_words(t, c)),
        source: s.map_or_else(|| c.source.clone(), |s| s.title.clone()),
        source_key: c.source.clone(),
        as_of: c.as_of.map_or_else(
            || t.get("claim.undated").to_string(),
            |d| date_in_words(t, &d),
        ),
        locator: c.locator.clone(),
        quote: c.quote.clone(),
        note: c.note.clone(),
        rank: c.rank.as_str(),
        rank_text: t.get(&format!("rank.{}", c.rank.as_str())),
        set_aside: c.deprecation_reason.map(|r| {
            (
                t.fill(
                    "claim.set_aside",
                    &[("reason", t.get(&format!("reason.{r}")))],
                ),
                r.as_str(),
            )
        }),
    }
}

/// The figures in the order a reader meets them: top-level figures in the
/// dataset's order, each followed by its parts, depth first.
fn ordered(ds: &Dataset) -> Vec<(&Figure, usize)> {
    let mut children: HashMap<&str, Vec<&Figure>> = HashMap::new();
    for f in &ds.figures {
        if let Some(p) = f.parent.as_deref() {
            children.entry(p).or_default().push(f);
        }
    }
    fn walk<'a>(
        f: &'a Figure,
        depth: usize,
        children: &HashMap<&str, Vec<&'a Figure>>,
        seen: &mut BTreeSet<&'a str>,
        out: &mut Vec<(&'a Figure, usize)>,
    ) {
        if !seen.insert(f.key.as_str()) {
            return;
        }
        out.push((f, depth));
        for c in children.get(f.key.as_str()).into_iter().flatten() {
            walk(c, depth + 1, children, seen, out);
        }
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for f in ds.figures.iter().filter(|f| f.parent.is_none()) {
        walk(f, 0, &children, &mut seen, &mut out);
    }
    out
}

/// The first segment of a key: `hostages` of `hostages.children`.
fn family(key: &str) -> &str {
    key.split('.').next().unwrap_or(key)
}

/// The sections of the page, from the data's hierarchy: a section is a
/// family of keys (their first segment) with a top-level figure that has
/// parts, headed by that figure. A family without one joins the section
/// before it, unless its unit differs from that section's head: a
/// different kind of quantity (an amount of money) starts a section of its
/// own, headed by its first figure, and the families without a head that
/// follow join it.
fn sectioned(ds: &Dataset) -> Vec<Grouped<'_>> {
    let has_parts: BTreeSet<&str> = ds
        .figures
        .iter()
        .filter_map(|f| f.parent.as_deref())
        .collect();
    let heads: HashMap<&str, &Figure> = {
        let mut m = HashMap::new();
        for f in &ds.figures {
            if f.parent.is_none() && has_parts.contains(f.key.as_str()) {
                m.entry(family(&f.key)).or_insert(f);
            }
        }
        m
    };
    let mut out: Vec<Grouped<'_>> = Vec::new();
    for (f, depth) in ordered(ds) {
        let fam = family(&f.key);
        let head = heads.get(fam).copied();
        let joins = match (out.last(), head) {
            (Some(g), _) if g.id == fam => true,
            (Some(g), None) => !g.with_parts || g.head.unit == f.unit,
            _ => false,
        };
        match out.last_mut() {
            Some(last) if joins => last.figures.push((f, depth)),
            _ => out.push(Grouped {
                id: fam.to_string(),
                head: head.unwrap_or(f),
                with_parts: head.is_some(),
                figures: vec![(f, depth)],
            }),
        }
    }
    out
}

/// A section before it is viewed: its id, its head, whether the head has
/// parts, and its figures with their depth.
struct Grouped<'a> {
    id: String,
    head: &'a Figure,
    with_parts: bool,
    figures: Vec<(&'a Figure, usize)>,
}

/// Whether two or more sources give the figure different values: the
/// figures the page lists where sources disagree.
pub fn sources_disagree(claims: &[&Claim]) -> bool {
    let mut by_value: HashMap<String, BTreeSet<&str>> = HashMap::new();
    for c in claims {
        by_value
            .entry(c.stated())
            .or_default()
            .insert(c.source.as_str());
    }
    let sources: BTreeSet<&str> = claims.iter().map(|c| c.source.as_str()).collect();
    sources.len() >= 2 && by_value.len() >= 2
}

/// An open question in words, and the figure it belongs to (none when it
/// is about a source as a whole).
fn question(
    t: &Catalogue,
    r: &CheckResult,
    ds: &Dataset,
    labels: &HashMap<&str, &str>,
    sources: &HashMap<&str, &Source>,
) -> (Option<String>, String) {
    let label = |k: &str| {
        labels.get(k).map_or_else(
            || t.get("question.unknown").to_string(),
            |l| (*l).to_string(),
        )
    };
    if let Some(id) = r.check.strip_prefix("rule:") {
        let note = ds
            .rules
            .iter()
            .find(|rule| rule.id == id)
            .map(|rule| rule.note.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                r.figures
                    .iter()
                    .map(|k| label(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
        let id = if r.outcome == crate::checks::Outcome::Violated {
            "question.rule"
        } else {
            "question.rule_uncertain"
        };
        return (r.figures.first().cloned(), t.fill(id, &[("note", &note)]));
    }
    if let Some(key) = r.check.strip_prefix("source:") {
        let title = sources.get(key).map_or(key, |s| s.title.as_str());
        return (None, t.fill("question.source", &[("source", title)]));
    }
    if let Some(claim) = r
        .claim
        .as_deref()
        .and_then(|id| ds.claims.iter().find(|c| c.id == id))
    {
        let title = sources
            .get(claim.source.as_str())
            .map_or(claim.source.as_str(), |s| s.title.as_str());
        let unit = labels_unit(ds, &claim.figure);
        return (
            Some(claim.figure.clone()),
            t.fill(
                "question.claim",
                &[
                    ("source", title),
                    ("value", &with_unit(unit, stated_words(t, claim))),
                ],
            ),
        );
    }
    let figure = if labels.contains_key(r.subject.as_str()) {
        Some(r.subject.clone())
    } else {
        r.figures.first().cloned()
    };
    let text = t.fill(
        "question.figure",
        &[("label", &figure.as_deref().map(label).unwrap_or_default())],
    );
    (figure, text)
}

fn labels_unit<'a>(ds: &'a Dataset, key: &str) -> &'a str {
    ds.figures
        .iter()
        .find(|f| f.key == key)
        .map_or("", |f| f.unit.as_str())
}

/// Builds the memorial page of one published version.
pub fn event_page(
    ds: &Dataset,
    version: i64,
    latest: i64,
    published_at: chrono::DateTime<chrono::Utc>,
    sha256: &str,
    report: &Report,
) -> EventPage {
    let t = catalogue::for_lang("en");
    let sources: HashMap<&str, &Source> = ds.sources.iter().map(|s| (s.key.as_str(), s)).collect();
    let labels: HashMap<&str, &str> = ds
        .figures
        .iter()
        .map(|f| (f.key.as_str(), f.label.as_str()))
        .collect();
    let mut claims: HashMap<&str, Vec<&Claim>> = HashMap::new();
    for c in &ds.claims {
        claims.entry(c.figure.as_str()).or_default().push(c);
    }
    // Preferred first, then normal, then set aside; by date within a rank.
    for list in claims.values_mut() {
        list.sort_by_key(|c| (c.rank, c.as_of, c.id.clone()));
    }
    // Open questions: on their figure's row, or with the others at the end.
    let mut on_figure: HashMap<String, Vec<String>> = HashMap::new();
    let mut rest = Vec::new();
    let mut question_count = 0;
    for r in report
        .results
        .iter()
        .filter(|r| r.class != Class::Consistent)
    {
        let (figure, text) = question(t, r, ds, &labels, &sources);
        question_count += 1;
        match figure.filter(|k| labels.contains_key(k.as_str())) {
            Some(k) => on_figure.entry(k).or_default().push(text),
            None => rest.push(text),
        }
    }
    let view = |f: &Figure, depth: usize| FigureView {
        key: f.key.clone(),
        label: f.label.clone(),
        depth,
        value: value_with_unit(t, f, &f.value()),
        implied: report
            .implied
            .get(&f.key)
            .map(|i| crate::model::Interval {
                lo: i128::from(i.low),
                hi: i.high.map(i128::from),
            })
            .filter(|i| !f.value().is_empty() && *i != f.value().interval())
            .map(|i| {
                value_with_unit(
                    t,
                    f,
                    &crate::model::Value {
                        low: i64::try_from(i.lo).ok(),
                        best: None,
                        high: i.hi.and_then(|h| i64::try_from(h).ok()),
                    },
                )
            })
            .map(|range| t.fill("event.implied", &[("range", &range)]))
            .unwrap_or_default(),
        status: f.status.as_str(),
        status_text: t.get(&format!("status.{}", f.status.as_str())),
        notes: f.notes.clone(),
        claims: claims
            .get(f.key.as_str())
            .map(|l| l.iter().map(|c| claim_view(t, c, f, &sources)).collect())
            .unwrap_or_default(),
        questions: on_figure.get(&f.key).cloned().unwrap_or_default(),
    };
    let grouped = sectioned(ds);
    let toll = grouped
        .iter()
        .map(|g| g.head)
        .filter(|h| !h.value().is_empty())
        .take(TOLL_FIGURES)
        .map(|h| toll_view(t, ds, h))
        .collect();
    let sections = grouped
        .iter()
        .map(|g| Section {
            id: g.id.clone(),
            caption: g.head.label.clone(),
            figures: g.figures.iter().map(|(f, d)| view(f, *d)).collect(),
        })
        .collect();
    let disputes = ordered(ds)
        .into_iter()
        .filter(|(f, _)| {
            claims
                .get(f.key.as_str())
                .is_some_and(|l| sources_disagree(l))
        })
        .map(|(f, _)| DisputeView {
            key: f.key.clone(),
            label: f.label.clone(),
            value: value_with_unit(t, f, &f.value()),
            claims: claims
                .get(f.key.as_str())
                .map(|l| l.iter().map(|c| claim_view(t, c, f, &sources)).collect())
                .unwrap_or_default(),
        })
        .collect();
    let mut source_list: Vec<&Source> = ds.sources.iter().collect();
    source_list.sort_by(|a, b| a.title.cmp(&b.title));
    let e = &ds.event;
    let dates = if e.started_on == e.ended_on {
        date_in_words(t, &e.started_on)
    } else {
        format!(
            "{} – {}",
            date_in_words(t, &e.started_on),
            date_in_words(t, &e.ended_on)
        )
    };
    let legend = |prefix: &str, words: &[&'static str]| -> Vec<LegendItem> {
        words
            .iter()
            .map(|w| LegendItem {
                id: format!("legend-{prefix}-{w}"),
                term: t.get(&format!("{prefix}.{w}")),
                help: t.get(&format!("{prefix}.{w}.help")),
            })
            .collect()
    };
    EventPage {
        t,
        slug: e.slug.clone(),
        title: e.title.clone(),
        location: e.location.clone(),
        dates,
        timezone: e.timezone.clone(),
        summary: e.summary.clone(),
        version,
        latest: latest.max(version),
        published: time_in_words(t, published_at),
        sha256: sha256.to_string(),
        toll,
        sections,
        chart: chart(t, ds),
        disputes,
        sources: source_list
            .into_iter()
            .map(|s| SourceView {
                key: s.key.clone(),
                title: s.title.clone(),
                byline: byline(&s.author, &s.publisher),
                kind: t.get(&format!("source_kind.{}", s.kind)).to_string(),
                published: s
                    .published_on
                    .map(|d| date_in_words(t, &d))
                    .unwrap_or_default(),
                url: s.url.clone(),
                notes: s.notes.clone(),
            })
            .collect(),
        legend_status: legend("status", &["confirmed", "estimate", "disputed"]),
        legend_rank: legend("rank", &["preferred", "normal", "deprecated"]),
        legend_reason: legend(
            "reason",
            &["superseded", "discredited", "erroneous", "retracted"],
        ),
        questions: rest,
        question_count,
    }
}

/// "Author, Publisher", or one of them when they are the same or one is
/// missing.
pub fn byline(author: &str, publisher: &str) -> String {
    match (author.trim(), publisher.trim()) {
        ("", p) => p.to_string(),
        (a, "") => a.to_string(),
        (a, p) if a == p => a.to_string(),
        (a, p) => format!("{a}, {p}"),
    }
}

fn toll_view(t: &Catalogue, ds: &Dataset, head: &Figure) -> TollView {
    let v = head.value();
    let (value, range) = match v.best {
        Some(b) if v.low.is_some() || v.high.is_some() => {
            let r = crate::model::Value { best: None, ..v };
            (
                with_unit(&head.unit, number(t, b)),
                t.fill("event.toll_range", &[("range", &value_words(t, &r))]),
            )
        }
        _ => (value_with_unit(t, head, &v), String::new()),
    };
    // The part that counts children, named so by its key's last segment.
    let part = ds
        .figures
        .iter()
        .find(|f| {
            f.parent.as_deref() == Some(head.key.as_str())
                && f.key.rsplit('.').next() == Some("children")
                && !f.value().is_empty()
        })
        .map(|f| {
            t.fill(
                "event.of_them",
                &[
                    ("value", &value_with_unit(t, f, &f.value())),
                    ("label", &f.label),
                ],
            )
        })
        .unwrap_or_default();
    TollView {
        key: head.key.clone(),
        label: head.label.clone(),
        value,
        range,
        part,
    }
}

/// The history page of an event: its versions, newest first, each with
/// the reason of the change that made it. `reasons` maps a changeset id to
/// its reason.
pub fn history_page(
    slug: &str,
    title: &str,
    versions: &[VersionSummary],
    reasons: &HashMap<i64, String>,
) -> HistoryPage {
    let t = catalogue::for_lang("en");
    let latest = versions.iter().map(|v| v.number).max().unwrap_or(0);
    let mut list: Vec<VersionView> = versions
        .iter()
        .map(|v| VersionView {
            number: v.number.to_string(),
            previous: versions
                .iter()
                .map(|p| p.number)
                .filter(|n| *n < v.number)
                .max()
                .map(|n| n.to_string()),
            published: time_in_words(t, v.published_at),
            reason: v
                .changeset
                .and_then(|id| reasons.get(&id).cloned())
                .unwrap_or_else(|| t.get("history.first").to_string()),
            sha256: v.sha256.clone(),
            latest: v.number == latest,
        })
        .collect();
    list.reverse();
    HistoryPage {
        t,
        slug: slug.to_string(),
        title: title.to_string(),
        versions: list,
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The difference between two versions of an event, for people: figures
/// with their old and new values, claims added and removed, sources, rules
/// and the event, each field that changed as old → new.
pub fn diff_page(
    title: &str,
    slug: &str,
    from: i64,
    to: i64,
    old: &Dataset,
    new: &Dataset,
    changes: &[Change],
) -> DiffPage {
    let t = catalogue::for_lang("en");
    let figure_label = |key: &str| {
        new.figures
            .iter()
            .chain(&old.figures)
            .find(|f| f.key == key)
            .map_or_else(|| key.to_string(), |f| f.label.clone())
    };
    let source_title = |key: &str| {
        new.sources
            .iter()
            .chain(&old.sources)
            .find(|s| s.key == key)
            .map_or_else(|| key.to_string(), |s| s.title.clone())
    };
    let field = |v: &Option<serde_json::Value>, name: &str| {
        v.as_ref()
            .and_then(|v| v.get(name))
            .map(json_text)
            .unwrap_or_default()
    };
    let value_of = |v: &Option<serde_json::Value>| -> String {
        let get = |n: &str| {
            v.as_ref()
                .and_then(|v| v.get(n))
                .and_then(serde_json::Value::as_i64)
        };
        match v {
            None => String::new(),
            Some(_) => value_words(
                t,
                &crate::model::Value {
                    low: get("low"),
                    best: get("best"),
                    high: get("high"),
                },
            ),
        }
    };
    // The fields that differ, other than the value's three numbers.
    let fields = |c: &Change, skip: &[&str]| -> (String, String) {
        let (Some(b), Some(a)) = (&c.before, &c.after) else {
            return (String::new(), String::new());
        };
        let mut names: BTreeSet<String> = BTreeSet::new();
        for v in [b, a] {
            if let Some(o) = v.as_object() {
                names.extend(o.keys().cloned());
            }
        }
        let (mut before, mut after) = (Vec::new(), Vec::new());
        for n in names.iter().filter(|n| !skip.contains(&n.as_str())) {
            let (x, y) = (
                b.get(n).map(json_text).unwrap_or_default(),
                a.get(n).map(json_text).unwrap_or_default(),
            );
            if x != y {
                // The field as people read it, from the field registry.
                let name = crate::model::item::fields(c.table)
                    .iter()
                    .find(|f| f.name == n.as_str())
                    .map_or(n.as_str(), |f| f.label);
                before.push(format!("{name}: {x}"));
                after.push(format!("{name}: {y}"));
            }
        }
        (before.join("; "), after.join("; "))
    };
    let mut groups = Vec::new();
    for (table, id, caption) in [
        (Table::Figures, "figures", "diff.figures"),
        (Table::Claims, "claims", "diff.claims"),
        (Table::Sources, "sources", "diff.sources"),
        (Table::Rules, "rules", "diff.rules"),
        (Table::Event, "event", "diff.event"),
    ] {
        let mut list = Vec::new();
        for c in changes.iter().filter(|c| c.table == table) {
            let change = t.get(&format!("diff.{}", c.kind()));
            let (item, anchor, before, after) = match table {
                Table::Figures => {
                    let (mut b, mut a) = (value_of(&c.before), value_of(&c.after));
                    let (fb, fa) = fields(c, &["low", "best", "high"]);
                    if b == a {
                        (b, a) = (String::new(), String::new());
                    }
                    for (x, y) in [(&mut b, fb), (&mut a, fa)] {
                        if !y.is_empty() {
                            if !x.is_empty() {
                                x.push_str("; ");
                            }
                            x.push_str(&y);
                        }
                    }
                    (figure_label(&c.key), format!("figure-{}", c.key), b, a)
                }
                Table::Claims => {
                    let side = c.after.as_ref().or(c.before.as_ref());
                    let fig = side
                        .and_then(|v| v.get("figure"))
                        .map(json_text)
                        .unwrap_or_default();
                    let src = side
                        .and_then(|v| v.get("source"))
                        .map(json_text)
                        .unwrap_or_default();
                    let item = t.fill(
                        "diff.claim",
                        &[
                            ("source", &source_title(&src)),
                            ("figure", &figure_label(&fig)),
                        ],
                    );
                    let (b, a) = match c.kind() {
                        "changed" => fields(c, &[]),
                        _ => (value_of(&c.before), value_of(&c.after)),
                    };
                    (item, format!("figure-{fig}"), b, a)
                }
                Table::Sources => {
                    let (b, a) = match c.kind() {
                        "changed" => fields(c, &[]),
                        _ => (field(&c.before, "title"), field(&c.after, "title")),
                    };
                    (source_title(&c.key), format!("source-{}", c.key), b, a)
                }
                _ => {
                    let (b, a) = match c.kind() {
                        "changed" => fields(c, &[]),
                        _ => (field(&c.before, "note"), field(&c.after, "note")),
                    };
                    (c.key.clone(), String::new(), b, a)
                }
            };
            list.push(ChangeView {
                item,
                anchor,
                change,
                before,
                after,
            });
        }
        if !list.is_empty() {
            groups.push(ChangeGroup {
                id,
                caption: t.get(caption),
                changes: list,
            });
        }
    }
    DiffPage {
        t,
        slug: slug.to_string(),
        title: title.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        groups,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart's width in its own units, which are CSS pixels at its
/// narrowest (a 390 px phone shows it unscaled): text of 14 units is never
/// smaller than 12 CSS pixels on a phone.
const CHART_WIDTH: f64 = 340.0;
/// The font size of the chart's text, in its units.
const CHART_FONT: f64 = 14.0;
/// A label's line, at most this many characters: at 14 px a character of a
/// serif face averages under 7.5 px, so a line stays well inside the width.
const CHART_LINE_CHARS: usize = 36;

/// Splits a label into lines of at most `max` characters, at spaces.
pub fn wrap(label: &str, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in label.split_whitespace() {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= max => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// A bar chart, as inline SVG, of the first top-level figure with an
/// exhaustive breakdown whose parts all have a value (the fatality
/// categories for Beslan). Each label stands above its bar, wrapped to fit;
/// ranges are drawn as a solid bar to the low end and a lighter bar to the
/// high end.
pub fn chart(t: &Catalogue, ds: &Dataset) -> Option<String> {
    let root = ds.figures.iter().find(|f| {
        f.parent.is_none()
            && f.breakdown == Some(crate::model::Breakdown::Exhaustive)
            && ds
                .figures
                .iter()
                .filter(|c| c.parent.as_deref() == Some(&f.key))
                .count()
                >= 2
    })?;
    let parts: Vec<&Figure> = ds
        .figures
        .iter()
        .filter(|c| c.parent.as_deref() == Some(&root.key))
        .collect();
    let bounds: Vec<(i64, i64)> = parts
        .iter()
        .map(|p| {
            let v = p.value();
            let lo = v.low.or(v.best).unwrap_or(0);
            let hi = v.high.or(v.best).unwrap_or(lo);
            (lo, hi.max(lo))
        })
        .collect();
    let max = bounds.iter().map(|b| b.1).max().filter(|m| *m > 0)?;
    let line_h = CHART_FONT * 1.25;
    let (bar_h, gap, value_w) = (14.0, 12.0, 80.0);
    let bar_w = CHART_WIDTH - value_w;
    let mut body = String::new();
    let mut y = 0.0;
    for (p, (lo, hi)) in parts.iter().zip(&bounds) {
        let _ = write!(body, r#"<text class="chart-label" x="0" y="{y}">"#);
        for (i, line) in wrap(&p.label, CHART_LINE_CHARS).iter().enumerate() {
            y += line_h;
            let _ = write!(
                body,
                r#"<tspan x="0" y="{:.1}">{}</tspan>"#,
                y - CHART_FONT * 0.25,
                escape(line)
            );
            let _ = i;
        }
        body.push_str("</text>");
        let top = y + 3.0;
        let w_lo = bar_w * (*lo as f64) / (max as f64);
        let w_hi = bar_w * (*hi as f64) / (max as f64);
        if w_hi > w_lo {
            let _ = write!(
                body,
                r#"<rect x="0" y="{top:.1}" width="{w_hi:.1}" height="{bar_h}" class="chart-range"/>"#,
            );
        }
        let _ = write!(
            body,
            r#"<rect x="0" y="{top:.1}" width="{w_lo:.1}" height="{bar_h}" class="chart-bar"/><text x="{:.1}" y="{:.1}" class="chart-value">{}</text>"#,
            w_hi.max(w_lo) + 6.0,
            top + bar_h - 2.0,
            escape(&value_with_unit(t, p, &p.value()))
        );
        y = top + bar_h + gap;
    }
    let height = y;
    let count = parts.len().to_string();
    let title = t.fill(
        "event.chart_title",
        &[("label", &root.label), ("count", &count)],
    );
    let desc: Vec<String> = parts
        .iter()
        .map(|p| format!("{} {}", p.label, value_words(t, &p.value())))
        .collect();
    let svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-labelledby="chart-title chart-desc" viewBox="0 0 {CHART_WIDTH} {height:.1}" width="{CHART_WIDTH}" height="{height:.1}" font-size="{CHART_FONT}"><title id="chart-title">{}</title><desc id="chart-desc">{}</desc>{body}</svg>"#,
        escape(&title),
        escape(&desc.join("; "))
    );
    let total = root.value();
    // Wide: seven categories near i64::MAX add up to more than an i64.
    let sum: i128 = bounds.iter().map(|b| i128::from(b.0)).sum();
    let caption = t.fill(
        "event.chart_caption",
        &[
            ("label", &root.label),
            ("count", &count),
            ("sum", &number(t, sum)),
            ("total", &total.to_string()),
        ],
    );
    Some(format!(
        r#"<figure class="chart-figure"><figcaption>{}</figcaption>{svg}</figure>"#,
        escape(&caption)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beslan() -> Dataset {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("imports/beslan-2004");
        let folder = crate::files::Folder::read_dir(&dir).unwrap_or_else(|e| panic!("{e:?}"));
        folder.parse().unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn publish_times_are_written_in_words() {
        let t = catalogue::for_lang("en");
        let at = |s: &str| crate::time::parse(s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            time_in_words(t, at("2026-12-01T05:49:12Z")),
            "1 December 2026, 05:49 UTC"
        );
        assert_eq!(
            time_in_words(t, at("2004-09-03T13:05:00+03:00")),
            "3 September 2004, 10:05 UTC"
        );
        let d: PartialDate = "2004-09-07".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(date_in_words(t, &d), "7 September 2004");
        let d: PartialDate = "2006-12".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(date_in_words(t, &d), "December 2006");
    }

    /// The English catalogue writes every value and claim of Beslan as the
    /// published document states it ("about 160", "more than 1,100",
    /// "800+", "58–76"), and the words come from the catalogue: another
    /// thousands separator shows in them.
    #[test]
    fn values_and_claims_are_written_in_the_catalogue_s_words() {
        let t = catalogue::for_lang("en");
        let ds = beslan();
        for f in &ds.figures {
            assert_eq!(
                value_words(t, &f.value()),
                f.value().to_string(),
                "{}",
                f.key
            );
        }
        let mut qualified = 0;
        for c in &ds.claims {
            assert_eq!(stated_words(t, c), c.stated(), "{}", c.id);
            qualified += usize::from(c.qualifier.is_some());
        }
        assert!(
            qualified > 5,
            "only {qualified} qualified claims: the test reads too little"
        );
        static SPACED: catalogue::Catalogue =
            catalogue::Catalogue::with_entries("xx", &[("number.thousands", "\u{a0}")]);
        let v = crate::model::Value {
            low: Some(1100),
            best: None,
            high: None,
        };
        assert_eq!(value_words(&SPACED, &v), "1\u{a0}100+");
    }

    #[test]
    fn a_byline_names_author_and_publisher_once() {
        assert_eq!(
            byline(
                "European Court of Human Rights",
                "European Court of Human Rights"
            ),
            "European Court of Human Rights"
        );
        assert_eq!(byline("A", ""), "A");
        assert_eq!(byline("", "B"), "B");
        assert_eq!(byline("A", "B"), "A, B");
    }

    #[test]
    fn labels_wrap_within_their_line() {
        let lines = wrap("Employees of the Ministry of Emergency Situations", 36);
        assert!(lines.len() >= 2, "{lines:?}");
        assert!(lines.iter().all(|l| l.chars().count() <= 36), "{lines:?}");
        assert_eq!(
            lines.join(" "),
            "Employees of the Ministry of Emergency Situations"
        );
    }

    #[test]
    fn only_figures_that_sources_give_different_values_for_are_disputed() {
        let ds = beslan();
        let page = event_page(
            &ds,
            1,
            1,
            crate::time::parse("2026-12-01T05:49:12Z").unwrap_or_else(|e| panic!("{e}")),
            "00",
            &crate::checks::run(&ds),
        );
        let keys: Vec<&str> = page.disputes.iter().map(|d| d.key.as_str()).collect();
        for d in &page.disputes {
            let values: BTreeSet<&str> = d.claims.iter().map(|c| c.value.as_str()).collect();
            let sources: BTreeSet<&str> = d.claims.iter().map(|c| c.source_key.as_str()).collect();
            assert!(values.len() >= 2 && sources.len() >= 2, "{}", d.key);
        }
        assert!(keys.contains(&"fatalities"), "{keys:?}");
        assert!(keys.contains(&"hostages.total"), "{keys:?}");
        assert!(keys.contains(&"militants.entered"), "{keys:?}");
        // One source only: not a disagreement.
        assert!(!keys.contains(&"deaths.seizure"), "{keys:?}");
        // The discredited 354 is there, set aside with its reason.
        let hostages = page
            .disputes
            .iter()
            .find(|d| d.key == "hostages.total")
            .unwrap_or_else(|| panic!("no hostages"));
        assert!(hostages.claims.iter().any(|c| c.value == "354"
            && c.set_aside
                .as_ref()
                .is_some_and(|(s, _)| s.contains("discredited"))));
    }

    #[test]
    fn the_toll_and_the_sections_come_from_the_hierarchy() {
        let ds = beslan();
        let page = event_page(
            &ds,
            1,
            1,
            crate::time::parse("2026-12-01T05:49:12Z").unwrap_or_else(|e| panic!("{e}")),
            "00",
            &crate::checks::run(&ds),
        );
        let toll: Vec<(&str, &str)> = page
            .toll
            .iter()
            .map(|k| (k.key.as_str(), k.value.as_str()))
            .collect();
        assert_eq!(
            toll,
            [
                ("fatalities", "334"),
                ("hostages.total", "1,128"),
                ("injured.total", "1,137+")
            ]
        );
        assert!(
            page.toll[0].range.contains("334–335"),
            "{}",
            page.toll[0].range
        );
        assert!(
            page.toll[0].part.starts_with("186 "),
            "{}",
            page.toll[0].part
        );
        assert!(
            page.toll[1].part.starts_with("777 "),
            "{}",
            page.toll[1].part
        );
        let ids: Vec<&str> = page.sections.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "fatalities",
                "hostages",
                "injured",
                "special_forces",
                "militants",
                "damages"
            ]
        );
        // Every figure is in exactly one section.
        let n: usize = page.sections.iter().map(|s| s.figures.len()).sum();
        assert_eq!(n, ds.figures.len());
        // Open questions name no keys.
        for s in &page.sections {
            for f in &s.figures {
                for q in &f.questions {
                    assert!(
                        !q.contains("fatalities.") && !q.contains("militants."),
                        "{q}"
                    );
                }
            }
        }
    }
}
