//! The audit log: one [`Entry`] per state change or security event, each a
//! leaf of an RFC 6962 Merkle tree whose heads are signed as checkpoints.
//!
//! This module knows the entry's canonical form and its hash; [`merkle`]
//! builds the tree and its proofs and [`checkpoint`] signs and checks tree
//! heads. None of it speaks SQL or HTTP.
//! Storage writes entries in the same transaction as the change they record
//! (see `db::append_audit`).

pub mod checkpoint;
pub mod merkle;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// What to select from the log: a query, whatever stores it.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub entity: Option<String>,
    /// The whole entity id.
    pub entity_id: Option<String>,
    /// A part of the entity id; with `entity_id` too, both must hold.
    pub entity_id_contains: Option<String>,
    /// Time bounds, inclusive (compared with the entries' stored times, to
    /// the millisecond).
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Entries after this sequence number.
    pub after_seq: Option<i64>,
    /// Entries before this sequence number.
    pub before_seq: Option<i64>,
    /// Newest first, rather than in sequence order.
    pub newest_first: bool,
    pub limit: i64,
}

/// One audit entry. Every field is inside the hashed leaf, so the time, the
/// actor and the request id cannot be changed without the tree noticing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    /// When, RFC 3339 UTC with milliseconds.
    ///
    /// Kept as the stored text, not a parsed time: the leaf hash covers these
    /// exact bytes, and parsing and writing it again could change them.
    pub at: String,
    /// Who: `user:<name>`, `token:<name>`, `cli:<os user>`, `anonymous`, `system`.
    pub actor: String,
    /// What, e.g. `changeset.approve`, `session.login_failed`.
    pub action: String,
    /// The kind of thing it happened to, e.g. `changeset`, `user`, `version`.
    pub entity: String,
    /// Which one, e.g. `12`, `beslan-2004/3`, `alice`.
    pub entity_id: String,
    /// The thing before the change, when there was one.
    #[schema(value_type = Option<Object>)]
    pub before: Option<Json>,
    /// The thing after the change, when there is one.
    #[schema(value_type = Option<Object>)]
    pub after: Option<Json>,
    /// The reason the person gave, in their words.
    pub reason: Option<String>,
    /// What vigil generated to describe the change; never mixed with `reason`.
    pub summary: Option<String>,
    /// The request that made the change, for HTTP requests.
    pub request_id: Option<String>,
    /// The client's address, for HTTP requests.
    pub client: Option<String>,
    /// The `X-Request-Id` the client sent, if any. vigil's own
    /// `request_id` is unique; this one is whatever the client chose. Absent
    /// from the canonical form when there is none, so entries written before
    /// it existed keep their leaf hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
}

impl Entry {
    /// The canonical bytes of the entry: JSON with sorted keys, no spaces,
    /// `null` for absent fields. This is what the leaf hash covers.
    pub fn canonical(&self) -> String {
        let before = self.before.as_ref().map(crate::document::canonical);
        let after = self.after.as_ref().map(crate::document::canonical);
        canonical_parts(&Parts {
            seq: self.seq,
            at: &self.at,
            actor: &self.actor,
            action: &self.action,
            entity: &self.entity,
            entity_id: &self.entity_id,
            before: before.as_deref(),
            after: after.as_deref(),
            reason: self.reason.as_deref(),
            summary: self.summary.as_deref(),
            request_id: self.request_id.as_deref(),
            client: self.client.as_deref(),
            client_request_id: self.client_request_id.as_deref(),
        })
    }

    /// The leaf hash, SHA-256(0x00 ‖ canonical entry).
    pub fn leaf_hash(&self) -> [u8; 32] {
        leaf_hash(self.canonical().as_bytes())
    }
}

/// An entry's fields as stored, `before` and `after` as their JSON text.
pub struct Parts<'a> {
    pub seq: i64,
    pub at: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub client: Option<&'a str>,
    pub client_request_id: Option<&'a str>,
}

fn push_str(out: &mut String, s: &str) {
    // serde_json's escaping, the same as the canonical JSON of documents;
    // most strings need none, and are copied as they are.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&Json::String(s.to_string()).to_string());
    }
}

fn push_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

/// The canonical bytes of an entry from its stored fields, without parsing
/// `before` and `after`: their stored text is spliced in as it is, so any
/// change to a stored byte changes the leaf. For an entry as written, the
/// result is exactly [`Entry::canonical`] (the keys in sorted order).
pub fn canonical_parts(p: &Parts<'_>) -> String {
    let mut out = String::new();
    canonical_parts_into(p, &mut out);
    out
}

/// [`canonical_parts`] into a buffer, cleared first, so that a verifier
/// reading a million entries reuses one allocation.
pub fn canonical_parts_into(p: &Parts<'_>, out: &mut String) {
    out.clear();
    out.reserve(160 + p.before.map_or(4, str::len) + p.after.map_or(4, str::len));
    out.push_str("{\"action\":");
    push_str(out, p.action);
    out.push_str(",\"actor\":");
    push_str(out, p.actor);
    out.push_str(",\"after\":");
    out.push_str(p.after.unwrap_or("null"));
    out.push_str(",\"at\":");
    push_str(out, p.at);
    out.push_str(",\"before\":");
    out.push_str(p.before.unwrap_or("null"));
    out.push_str(",\"client\":");
    push_opt(out, p.client);
    if let Some(id) = p.client_request_id {
        out.push_str(",\"client_request_id\":");
        push_str(out, id);
    }
    out.push_str(",\"entity\":");
    push_str(out, p.entity);
    out.push_str(",\"entity_id\":");
    push_str(out, p.entity_id);
    out.push_str(",\"reason\":");
    push_opt(out, p.reason);
    out.push_str(",\"request_id\":");
    push_opt(out, p.request_id);
    out.push_str(",\"seq\":");
    out.push_str(&p.seq.to_string());
    out.push_str(",\"summary\":");
    push_opt(out, p.summary);
    out.push('}');
}

/// SHA-256(0x00 ‖ data): an RFC 6962 leaf.
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// SHA-256(0x01 ‖ left ‖ right): an RFC 6962 interior node.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

#[cfg(test)]
mod canonical_tests {
    use super::*;

    /// The definition: serde's JSON of the entry, keys sorted.
    fn reference(e: &Entry) -> String {
        crate::document::canonical(&serde_json::to_value(e).unwrap())
    }

    #[test]
    fn the_fast_canonical_form_is_the_reference_form() {
        let mut e = Entry {
            seq: 42,
            at: "2026-11-26T01:02:03.456Z".into(),
            actor: "user:clara".into(),
            action: "changeset.edit".into(),
            entity: "figure".into(),
            entity_id: "beslan-2004/injured.total".into(),
            before: Some(serde_json::json!({"z": 1, "a": "é \"quoted\"\n\u{1}", "n": null})),
            after: Some(serde_json::json!([1, {"b": 2, "a": [true, false]}])),
            reason: Some("Ŝome — reason\twith\\ escapes".into()),
            summary: None,
            request_id: Some("abc".into()),
            client: None,
            client_request_id: None,
        };
        assert_eq!(e.canonical(), reference(&e));
        e.before = None;
        e.reason = None;
        e.summary = Some("s".into());
        e.client = Some("::1".into());
        assert_eq!(e.canonical(), reference(&e));
        e.client_request_id = Some("their-id \"1\"".into());
        assert_eq!(e.canonical(), reference(&e));
    }
}
