//! The published document: everything the public reads about one version of
//! an event, as canonical JSON with its SHA-256.
//!
//! Canonical JSON here means: object keys sorted by their UTF-8 bytes, no
//! whitespace, strings escaped as JSON requires and integers in decimal. The
//! `sha256` member is the hash of the canonical JSON of the document without
//! that member, so anyone can recompute it.

use serde::Serialize;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::checks::Report;
use crate::error::{Error, Result};
use crate::model::{Claim, Dataset, Figure};

/// A document ready to store: its canonical text and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub json: String,
    pub sha256: String,
}

/// What a version is, besides its data.
#[derive(Debug, Clone, Serialize)]
pub struct Header<'a> {
    pub version: i64,
    pub published_at: &'a str,
    pub changeset: Option<i64>,
}

/// Builds the published document of `ds` at `header`, with its check report.
/// A published version without its document: what lists of versions show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VersionInfo {
    pub number: i64,
    pub published_at: String,
    pub changeset: Option<i64>,
    pub sha256: String,
}

pub fn build(ds: &Dataset, header: &Header<'_>, checks: &Report) -> Result<Published> {
    let mut ds = ds.clone();
    ds.sort();
    let mut figures = Vec::with_capacity(ds.figures.len());
    let mut by_figure: std::collections::HashMap<&str, Vec<&Claim>> = Default::default();
    for c in &ds.claims {
        by_figure.entry(c.figure.as_str()).or_default().push(c);
    }
    for f in &ds.figures {
        let mut v = serde_json::to_value(f)?;
        let claims = by_figure.remove(f.key.as_str()).unwrap_or_default();
        let mut shown = Vec::with_capacity(claims.len());
        for c in claims {
            let mut cv = serde_json::to_value(c)?;
            if let Json::Object(m) = &mut cv {
                // As a reader says it: "about 160", "more than 1,100";
                // "7 September 2004" or "undated".
                m.insert("stated".into(), c.stated().into());
                m.insert("dated".into(), c.dated().into());
            }
            shown.push(cv);
        }
        if let Json::Object(m) = &mut v {
            m.insert("claims".into(), Json::Array(shown));
            // The tightest range the ranges, breakdowns and rules allow.
            if let Some(imp) = checks.implied.get(&f.key) {
                m.insert("implied".into(), serde_json::to_value(imp)?);
            }
        }
        figures.push(v);
    }
    let mut doc = Map::new();
    doc.insert("event".into(), serde_json::to_value(&ds.event)?);
    doc.insert("version".into(), header.version.into());
    doc.insert("published_at".into(), header.published_at.into());
    doc.insert("changeset".into(), serde_json::to_value(header.changeset)?);
    doc.insert("figures".into(), Json::Array(figures));
    doc.insert("sources".into(), serde_json::to_value(&ds.sources)?);
    doc.insert("rules".into(), serde_json::to_value(&ds.rules)?);
    doc.insert("checks".into(), serde_json::to_value(checks)?);
    let sha256 = hash(&Json::Object(doc.clone()));
    doc.insert("sha256".into(), sha256.clone().into());
    Ok(Published {
        json: canonical(&Json::Object(doc)),
        sha256,
    })
}

/// The SHA-256 (lower-case hex) of a value's canonical JSON.
pub fn hash(v: &Json) -> String {
    hex::encode(Sha256::digest(canonical(v).as_bytes()))
}

/// Recomputes a document's hash from its text; `Ok(true)` when it matches
/// the `sha256` the document carries.
pub fn verify(json: &str) -> Result<bool> {
    Ok(verified_hash(json)?.is_some())
}

/// The `sha256` a document carries, when it is the hash of the rest of the
/// document; `None` when it is missing or differs.
pub fn verified_hash(json: &str) -> Result<Option<String>> {
    let mut v: Json = serde_json::from_str(json)?;
    let Some(m) = v.as_object_mut() else {
        return Ok(None);
    };
    let Some(Json::String(claimed)) = m.remove("sha256") else {
        return Ok(None);
    };
    Ok((hash(&v) == claimed).then_some(claimed))
}

/// The dataset a document was built from.
pub fn dataset(json: &str) -> Result<Dataset> {
    let v: Json = serde_json::from_str(json)?;
    let get = |k: &str| {
        v.get(k)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("stored document has no '{k}'")))
    };
    let mut figures = Vec::new();
    let mut claims: Vec<Claim> = Vec::new();
    if let Json::Array(list) = get("figures")? {
        for mut f in list {
            if let Some(m) = f.as_object_mut() {
                if let Some(Json::Array(cs)) = m.remove("claims") {
                    for mut c in cs {
                        if let Some(cm) = c.as_object_mut() {
                            // Derived for readers; the claim is the rest.
                            cm.remove("stated");
                            cm.remove("dated");
                        }
                        claims.push(serde_json::from_value::<Claim>(c)?);
                    }
                }
                m.remove("implied");
            }
            figures.push(serde_json::from_value::<Figure>(f)?);
        }
    }
    let mut ds = Dataset {
        event: serde_json::from_value(get("event")?)?,
        sources: serde_json::from_value(get("sources")?)?,
        figures,
        claims,
        rules: serde_json::from_value(get("rules")?)?,
    };
    ds.sort();
    Ok(ds)
}

/// Writes a JSON value canonically: sorted keys, no whitespace.
pub fn canonical(v: &Json) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Json, out: &mut String) {
    match v {
        Json::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = m.get(k) {
                    write_canonical(x, out);
                }
            }
            out.push('}');
        }
        Json::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_keys_and_drops_whitespace() {
        let v: Json =
            serde_json::from_str(r#"{ "b": [1, {"z": 1, "a": "é\"x"}], "a": null }"#).unwrap();
        assert_eq!(canonical(&v), r#"{"a":null,"b":[1,{"a":"é\"x","z":1}]}"#);
    }
}
