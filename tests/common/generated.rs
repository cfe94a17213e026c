//! A generated event for benchmarks and fault tests: groups of nine parts
//! under a total, each figure claimed by every source, so that it passes
//! every check and is as large as asked.
#![allow(dead_code, clippy::unwrap_used)]

use std::fmt::Write;

use vigil::model::Table;

/// An event `slug` of `groups` × 10 figures and `sources` sources, each
/// figure claimed by every source (at most `max_claims` claims); `notes` goes
/// into every figure's notes. The five files, as CSV text.
pub fn event(
    slug: &str,
    groups: usize,
    sources: usize,
    max_claims: usize,
    notes: &str,
) -> Vec<(Table, String)> {
    let event = format!(
        "slug,title,location,started_on,ended_on,timezone,summary\n\
         {slug},Generated event,Nowhere,2000-01-01,2000-01-02,UTC,Generated for tests and benchmarks.\n"
    );
    let mut source_csv = String::from("key,title,author,publisher,kind,published_on,url,notes\n");
    for s in 0..sources {
        writeln!(source_csv, "source-{s},Source {s},,,other,2000,,").unwrap();
    }
    let mut figures =
        String::from("key,label,unit,parent,breakdown,position,low,best,high,status,notes\n");
    let mut claims =
        String::from("id,figure,source,low,best,high,as_of,rank,reason,locator,quote,note\n");
    let mut n = 0;
    let mut claim = |claims: &mut String, key: &str, best: usize| {
        for s in 0..sources {
            if n == max_claims {
                return;
            }
            let rank = if s == 0 { "preferred" } else { "normal" };
            writeln!(
                claims,
                "c{n},{key},source-{s},,{best},,2000-01-02,{rank},,p. {s},,"
            )
            .unwrap();
            n += 1;
        }
    };
    for g in 0..groups {
        let total = format!("g{g}.total");
        writeln!(
            figures,
            "{total},Group {g},persons,,exhaustive,{},,45,,confirmed,{notes}",
            g * 20
        )
        .unwrap();
        claim(&mut claims, &total, 45);
        for c in 1..=9 {
            writeln!(
                figures,
                "g{g}.total.c{c},Part {c},persons,{total},,{},,{c},,confirmed,{notes}",
                g * 20 + c
            )
            .unwrap();
            claim(&mut claims, &format!("g{g}.total.c{c}"), c);
        }
    }
    let mut rules = String::from("id,expression,severity,note\n");
    for g in 0..groups.min(100) {
        writeln!(rules, "r{g},g{g}.total.c1 <= g{g}.total,error,").unwrap();
    }
    vec![
        (Table::Event, event),
        (Table::Sources, source_csv),
        (Table::Figures, figures),
        (Table::Claims, claims),
        (Table::Rules, rules),
    ]
}

/// Writes the files into `dir` as an event folder.
pub fn write(dir: &std::path::Path, files: &[(Table, String)]) {
    for (table, text) in files {
        std::fs::write(dir.join(format!("{}.csv", table.as_str())), text).unwrap();
    }
}
