//! The memorial pages, rendered on the server: readable without JavaScript,
//! printable, with semantic tables and an inline SVG chart.

use std::collections::HashMap;
use std::fmt::Write;

use askama::Template;

use crate::checks::{Class, Report};
use crate::model::{group, Claim, Dataset, Figure, Rank, Source, Status};

/// The memorial page of a version as HTML: what the read model holds
/// (see [`crate::service::reads::RenderPage`]).
pub fn render_event_page(
    ds: &Dataset,
    version: i64,
    published_at: &str,
    sha256: &str,
    report: &Report,
) -> crate::error::Result<String> {
    event_page(ds, version, published_at, sha256, report)
        .render()
        .map_err(|e| {
            crate::error::Error::Io(format!("rendering the page of {}: {e}", ds.event.slug))
        })
}

/// The stylesheet of the public pages.
pub const STYLESHEET: &str = include_str!("static/vigil.css");

/// One claim as a reader sees it.
pub struct ClaimView {
    pub value: String,
    pub source: String,
    pub url: String,
    pub kind: String,
    pub as_of: String,
    pub locator: String,
    pub quote: String,
    pub note: String,
    pub rank: &'static str,
    pub reason: Option<String>,
}

/// One row of the figures table.
pub struct FigureView {
    pub key: String,
    pub label: String,
    pub depth: usize,
    pub value: String,
    /// The implied range, when narrower than the curated one; else empty.
    pub implied: String,
    pub status: &'static str,
    pub notes: String,
    pub claims: Vec<ClaimView>,
}

/// A group of figures under one caption (one `<tbody>` each).
pub struct Section {
    pub id: String,
    pub caption: String,
    pub figures: Vec<FigureView>,
}

/// A source in the list of sources.
pub struct SourceView {
    pub key: String,
    pub title: String,
    pub author: String,
    pub publisher: String,
    pub kind: String,
    pub published: String,
    pub url: String,
    pub notes: String,
}

/// A check result worth a reader's attention.
pub struct CheckView {
    pub outcome: &'static str,
    pub severity: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "event.html")]
pub struct EventPage {
    pub slug: String,
    pub title: String,
    pub location: String,
    pub dates: String,
    pub timezone: String,
    pub summary: String,
    pub version: i64,
    pub published_at: String,
    pub sha256: String,
    pub sections: Vec<Section>,
    pub chart: Option<String>,
    pub disputes: Vec<FigureView>,
    pub sources: Vec<SourceView>,
    pub check_status: &'static str,
    pub checks: Vec<CheckView>,
}

/// An event on the front page.
pub struct EventLink {
    pub slug: String,
    pub title: String,
    pub version: i64,
    pub published_at: String,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub events: Vec<EventLink>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub detail: String,
}

fn value_with_unit(f: &Figure, value: &crate::model::Value) -> String {
    match f.unit.as_str() {
        "persons" | "" => value.to_string(),
        unit => format!("{value} {unit}"),
    }
}

fn claim_view(c: &Claim, f: &Figure, sources: &HashMap<&str, &Source>) -> ClaimView {
    let s = sources.get(c.source.as_str());
    let stated = c.stated();
    ClaimView {
        value: match f.unit.as_str() {
            "persons" | "" => stated,
            unit => format!("{stated} {unit}"),
        },
        source: s.map_or_else(|| c.source.clone(), |s| s.title.clone()),
        url: s.map(|s| s.url.clone()).unwrap_or_default(),
        kind: s.map(|s| s.kind.to_string()).unwrap_or_default(),
        as_of: c.dated(),
        locator: c.locator.clone(),
        quote: c.quote.clone(),
        note: c.note.clone(),
        rank: c.rank.as_str(),
        reason: c.reason.map(|r| r.to_string()),
    }
}

/// Builds the memorial page of one published version.
pub fn event_page(
    ds: &Dataset,
    version: i64,
    published_at: &str,
    sha256: &str,
    report: &Report,
) -> EventPage {
    let sources: HashMap<&str, &Source> = ds.sources.iter().map(|s| (s.key.as_str(), s)).collect();
    let mut claims: HashMap<&str, Vec<&Claim>> = HashMap::new();
    for c in &ds.claims {
        claims.entry(c.figure.as_str()).or_default().push(c);
    }
    // Preferred first, then normal, then deprecated; by date within a rank.
    for list in claims.values_mut() {
        list.sort_by_key(|c| (c.rank, c.as_of, c.id.clone()));
    }
    let parents: HashMap<&str, &str> = ds
        .figures
        .iter()
        .filter_map(|f| f.parent.as_deref().map(|p| (f.key.as_str(), p)))
        .collect();
    let depth = |key: &str| {
        let mut d = 0;
        let mut at = key;
        while let Some(p) = parents.get(at) {
            d += 1;
            at = p;
            if d > ds.figures.len() {
                break;
            }
        }
        d
    };
    let view = |f: &Figure| FigureView {
        key: f.key.clone(),
        label: f.label.clone(),
        depth: depth(&f.key),
        value: value_with_unit(f, &f.value()),
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
                    f,
                    &crate::model::Value {
                        low: i64::try_from(i.lo).ok(),
                        best: None,
                        high: i.hi.and_then(|h| i64::try_from(h).ok()),
                    },
                )
            })
            .unwrap_or_default(),
        status: f.status.as_str(),
        notes: f.notes.clone(),
        claims: claims
            .get(f.key.as_str())
            .map(|l| l.iter().map(|c| claim_view(c, f, &sources)).collect())
            .unwrap_or_default(),
    };
    // Figures in order, parents before their children, grouped by the first
    // segment of the key; a section is captioned by its first figure's label.
    let mut ordered: Vec<&Figure> = Vec::new();
    let mut children: HashMap<&str, Vec<&Figure>> = HashMap::new();
    for f in &ds.figures {
        if let Some(p) = f.parent.as_deref() {
            children.entry(p).or_default().push(f);
        }
    }
    fn walk<'a>(
        f: &'a Figure,
        children: &HashMap<&str, Vec<&'a Figure>>,
        out: &mut Vec<&'a Figure>,
    ) {
        if out.iter().any(|o| o.key == f.key) {
            return;
        }
        out.push(f);
        for c in children.get(f.key.as_str()).into_iter().flatten() {
            walk(c, children, out);
        }
    }
    for f in ds.figures.iter().filter(|f| f.parent.is_none()) {
        walk(f, &children, &mut ordered);
    }
    let mut sections: Vec<Section> = Vec::new();
    for f in ordered {
        let family = f.key.split('.').next().unwrap_or(&f.key).to_string();
        match sections.last_mut() {
            Some(s) if s.id == family => s.figures.push(view(f)),
            _ => sections.push(Section {
                caption: f.label.clone(),
                id: family,
                figures: vec![view(f)],
            }),
        }
    }
    let disputes = ds
        .figures
        .iter()
        .filter(|f| {
            f.status == Status::Disputed
                || claims
                    .get(f.key.as_str())
                    .is_some_and(|l| l.iter().any(|c| c.rank == Rank::Deprecated))
        })
        .map(view)
        .collect();
    let mut source_list: Vec<&Source> = ds.sources.iter().collect();
    source_list.sort_by(|a, b| a.title.cmp(&b.title));
    let e = &ds.event;
    let dates = if e.started_on == e.ended_on {
        e.started_on.long()
    } else {
        format!("{} – {}", e.started_on.long(), e.ended_on.long())
    };
    EventPage {
        slug: e.slug.clone(),
        title: e.title.clone(),
        location: e.location.clone(),
        dates,
        timezone: e.timezone.clone(),
        summary: e.summary.clone(),
        version,
        published_at: published_at.to_string(),
        sha256: sha256.to_string(),
        sections,
        chart: chart(ds),
        disputes,
        sources: source_list
            .into_iter()
            .map(|s| SourceView {
                key: s.key.clone(),
                title: s.title.clone(),
                author: s.author.clone(),
                publisher: s.publisher.clone(),
                kind: s.kind.to_string(),
                published: s.published_on.map(|d| d.long()).unwrap_or_default(),
                url: s.url.clone(),
                notes: s.notes.clone(),
            })
            .collect(),
        check_status: report.status.as_str(),
        checks: report
            .results
            .iter()
            .filter(|r| r.class != Class::Consistent)
            .map(|r| CheckView {
                outcome: r.outcome.as_str(),
                severity: r.severity.as_str(),
                message: r.message.clone(),
            })
            .collect(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart, as inline SVG, of the first top-level figure with
/// an exhaustive breakdown whose parts all have a value (the fatality
/// categories for Beslan). Ranges are drawn as a solid bar to the low end and
/// a lighter bar to the high end.
pub fn chart(ds: &Dataset) -> Option<String> {
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
    let (label_w, bar_w, row_h, top) = (260.0, 380.0, 30.0, 10.0);
    let width = label_w + bar_w + 90.0;
    let height = top * 2.0 + row_h * parts.len() as f64;
    let mut svg = String::new();
    let title = format!("{}: {} categories", root.label, parts.len());
    let desc: Vec<String> = parts
        .iter()
        .map(|p| format!("{} {}", p.label, p.value()))
        .collect();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-labelledby="chart-title chart-desc" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet"><title id="chart-title">{}</title><desc id="chart-desc">{}</desc>"#,
        escape(&title),
        escape(&desc.join("; "))
    );
    for (i, (p, (lo, hi))) in parts.iter().zip(&bounds).enumerate() {
        let y = top + row_h * i as f64;
        let w_lo = bar_w * (*lo as f64) / (max as f64);
        let w_hi = bar_w * (*hi as f64) / (max as f64);
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" class="chart-label">{}</text>"#,
            label_w - 8.0,
            y + row_h * 0.62,
            escape(&p.label)
        );
        if w_hi > w_lo {
            let _ = write!(
                svg,
                r#"<rect x="{label_w}" y="{}" width="{w_hi:.1}" height="{}" class="chart-range"/>"#,
                y + 5.0,
                row_h - 10.0
            );
        }
        let _ = write!(
            svg,
            r#"<rect x="{label_w}" y="{}" width="{w_lo:.1}" height="{}" class="chart-bar"/><text x="{}" y="{}" class="chart-value">{}</text>"#,
            y + 5.0,
            row_h - 10.0,
            label_w + w_hi + 6.0,
            y + row_h * 0.62,
            escape(&p.value().to_string())
        );
    }
    svg.push_str("</svg>");
    let total = root.value();
    // Wide: seven categories near i64::MAX add up to more than an i64.
    let sum: i128 = bounds.iter().map(|b| i128::from(b.0)).sum();
    Some(format!(
        r#"<figure class="chart-figure"><figcaption>{}: the {} categories add up to {}; the published total is {}.</figcaption>{svg}</figure>"#,
        escape(&root.label),
        parts.len(),
        escape(&group(sum)),
        escape(&total.to_string())
    ))
}
