//! The published document: everything the public reads about one version of
//! an event, as canonical JSON with its SHA-256.
//!
//! Canonical JSON here means: object keys sorted by their UTF-8 bytes, no
//! whitespace, strings escaped as JSON requires and integers in decimal. The
//! `sha256` member is the hash of the canonical JSON of the document without
//! that member, so anyone can recompute it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use utoipa::openapi::{RefOr, Schema};

use crate::checks::{Implied, Report};
use crate::error::Result;
use crate::model::{Claim, Dataset, Event, Figure, Rule, Source};

/// A published document as stored and served: its canonical JSON text and
/// the SHA-256 it carries. [`build`] makes it; [`PublishedDocument`] is
/// its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalDocument {
    pub json: String,
    pub sha256: String,
}

/// What a version is, besides its data.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub version: i64,
    #[serde(with = "crate::time::secs::serde")]
    pub published_at: DateTime<Utc>,
    pub changeset: Option<i64>,
}

/// The public summary of a published version, without its document: its
/// number, time, changeset and hash, as lists of versions show it.
// The OpenAPI schema keeps the name clients know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = VersionInfo)]
pub struct VersionSummary {
    pub number: i64,
    #[serde(with = "crate::time::secs::serde")]
    #[schema(value_type = String)]
    pub published_at: DateTime<Utc>,
    pub changeset: Option<i64>,
    pub sha256: String,
}

/// Builds the published document of `ds` at `header`, with its check report.
pub fn build(ds: &Dataset, header: &Header, checks: &Report) -> Result<CanonicalDocument> {
    let mut ds = ds.clone();
    ds.sort();
    let mut by_figure: std::collections::HashMap<&str, Vec<&Claim>> = Default::default();
    for c in &ds.claims {
        by_figure.entry(c.figure.as_str()).or_default().push(c);
    }
    let figures = ds
        .figures
        .iter()
        .map(|f| PublishedFigure {
            figure: f.clone(),
            implied: checks.implied.get(&f.key).copied(),
            claims: by_figure
                .remove(f.key.as_str())
                .unwrap_or_default()
                .into_iter()
                .map(|c| PublishedClaim {
                    stated: c.stated(),
                    dated: c.dated(),
                    claim: c.clone(),
                })
                .collect(),
        })
        .collect();
    let doc = PublishedDocument {
        event: ds.event.clone(),
        version: header.version,
        published_at: header.published_at,
        changeset: header.changeset,
        sha256: None,
        figures,
        sources: ds.sources.clone(),
        rules: ds.rules.clone(),
        checks: checks.clone(),
    };
    let mut value = serde_json::to_value(&doc)?;
    let sha256 = hash(&value);
    if let Json::Object(m) = &mut value {
        m.insert("sha256".into(), sha256.clone().into());
    }
    Ok(CanonicalDocument {
        json: canonical(&value),
        sha256,
    })
}

/// The published document of one version of an event. `sha256` is the
/// SHA-256 of the canonical JSON (keys sorted, no whitespace) of the document
/// without `sha256`. [`build`] makes it; the OpenAPI document describes it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublishedDocument {
    pub event: Event,
    pub version: i64,
    #[serde(with = "crate::time::secs::serde")]
    #[schema(value_type = String)]
    pub published_at: DateTime<Utc>,
    /// The changeset that made this version; none for an import.
    pub changeset: Option<i64>,
    /// Present in every published document; absent only while it is hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = true, value_type = String)]
    pub sha256: Option<String>,
    pub figures: Vec<PublishedFigure>,
    pub sources: Vec<Source>,
    pub rules: Vec<Rule>,
    pub checks: Report,
}

/// A figure as published: every field of the figure, the tightest range the
/// ranges, breakdowns and rules allow together (absent when they cannot all
/// hold), and the claims that state it.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedFigure {
    #[serde(flatten)]
    pub figure: Figure,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implied: Option<Implied>,
    pub claims: Vec<PublishedClaim>,
}

/// A claim as published: every field of the claim, and how a reader says
/// it: "about 160", "more than 1,100"; "7 September 2004" or "undated".
#[derive(Debug, Clone, Serialize)]
pub struct PublishedClaim {
    #[serde(flatten)]
    pub claim: Claim,
    pub stated: String,
    pub dated: String,
}

/// The schema of `T` (an object) with `extra` properties added to it, each
/// required when its flag says so: a flattened type keeps its own schema,
/// field for field, and a new field of it shows in the document and in its
/// description at once.
fn extended<T: utoipa::PartialSchema>(extra: Vec<(&str, RefOr<Schema>, bool)>) -> RefOr<Schema> {
    let mut schema = T::schema();
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        for (name, property, required) in extra {
            object.properties.insert(name.to_string(), property);
            if required {
                object.required.push(name.to_string());
            }
        }
    }
    schema
}

impl utoipa::PartialSchema for PublishedFigure {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, Ref};
        extended::<Figure>(vec![
            ("implied", Ref::from_schema_name("Implied").into(), false),
            (
                "claims",
                ArrayBuilder::new()
                    .items(Ref::from_schema_name("PublishedClaim"))
                    .build()
                    .into(),
                true,
            ),
        ])
    }
}

impl utoipa::ToSchema for PublishedFigure {}

impl utoipa::PartialSchema for PublishedClaim {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let text = |description: &str| -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
                .build()
                .into()
        };
        extended::<Claim>(vec![
            (
                "stated",
                text("The claim as the source states it: \"about 160\", \"more than 1,100\"."),
                true,
            ),
            ("dated", text("\"7 September 2004\", or \"undated\"."), true),
        ])
    }
}

impl utoipa::ToSchema for PublishedClaim {}

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

/// A stored document as far as its data goes. What is derived for
/// readers (a figure's `implied`, a claim's `stated` and `dated`) and the
/// check report are skipped, not parsed.
#[derive(Deserialize)]
struct StoredData {
    event: Event,
    sources: Vec<Source>,
    figures: Vec<StoredFigure>,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct StoredFigure {
    #[serde(flatten)]
    figure: Figure,
    claims: Vec<StoredClaim>,
}

#[derive(Deserialize)]
struct StoredClaim {
    #[serde(flatten)]
    claim: Claim,
}

/// The dataset a document was built from, read straight into its types: a
/// document of 50,000 figures is parsed in a fraction of the time a JSON
/// tree would take.
pub fn dataset(json: &str) -> Result<Dataset> {
    let stored: StoredData = serde_json::from_str(json)?;
    let mut claims = Vec::new();
    let figures = stored
        .figures
        .into_iter()
        .map(|f| {
            claims.extend(f.claims.into_iter().map(|c| c.claim));
            f.figure
        })
        .collect();
    let mut ds = Dataset {
        event: stored.event,
        sources: stored.sources,
        figures,
        claims,
        rules: stored.rules,
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
