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

/// One audit entry. Every field is inside the hashed leaf, so the time, the
/// actor and the request id cannot be changed without the tree noticing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    /// When, RFC 3339 UTC with milliseconds.
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
}

impl Entry {
    /// The canonical bytes of the entry: JSON with sorted keys, no spaces,
    /// `null` for absent fields. This is what the leaf hash covers.
    pub fn canonical(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or(Json::Null);
        crate::document::canonical(&v)
    }

    /// The leaf hash, SHA-256(0x00 ‖ canonical entry).
    pub fn leaf_hash(&self) -> [u8; 32] {
        leaf_hash(self.canonical().as_bytes())
    }
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
