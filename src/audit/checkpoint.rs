//! Signed checkpoints: a tree head in the C2SP tlog-checkpoint format
//! (<https://c2sp.org/tlog-checkpoint>), signed with Ed25519 as a C2SP signed
//! note (<https://c2sp.org/signed-note>), with keys encoded as
//! golang.org/x/mod/sumdb/note encodes them, so standard tooling can read
//! and check what vigil signs.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The signature type byte of Ed25519 in signed notes.
const ALG_ED25519: u8 = 0x01;
/// The start of every signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// How many signature lines a note may carry (the spec asks for at least 16).
const MAX_SIGNATURES: usize = 100;
/// The start of an encoded signer key.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// What went wrong reading, checking or storing a checkpoint or a key.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A line of the checkpoint body is wrong (lines count from 1).
    #[error("checkpoint line {line} ({what}): {reason}")]
    Body {
        line: usize,
        what: &'static str,
        reason: String,
    },
    /// The signed note is not shaped as the signed-note spec says.
    #[error("malformed signed note: {0}")]
    Note(String),
    /// No signature line from the expected key.
    #[error("the note has no signature by key {0}")]
    Unsigned(String),
    /// A signature line from the expected key does not verify.
    #[error("the signature by key {0} does not verify")]
    BadSignature(String),
    /// An encoded key is malformed.
    #[error("malformed key: {0}")]
    Key(String),
    /// The key file exists already; keys are never overwritten.
    #[error("key file {} already exists; refusing to overwrite it", .0.display())]
    KeyFileExists(PathBuf),
    /// The key file can be read or written by group or others.
    #[error("key file {} has mode {mode:04o}; it must not be accessible by group or others (chmod 600)", path.display())]
    KeyFileMode { path: PathBuf, mode: u32 },
    /// Reading or writing the key file failed.
    #[error("key file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn body_err(line: usize, what: &'static str, reason: impl Into<String>) -> CheckpointError {
    CheckpointError::Body {
        line,
        what,
        reason: reason.into(),
    }
}

/// A signed tree head: the log's origin, its size and its root, and
/// optionally the time it was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `vigil.example.org/audit`. Non-empty, one line.
    pub origin: String,
    /// The number of entries in the tree.
    pub size: u64,
    /// The Merkle tree head at `size`.
    pub root: Hash,
    /// When it was signed, RFC 3339.
    pub time: Option<String>,
}

impl Checkpoint {
    /// The note text: origin, size in decimal, base64 root, each on its own
    /// line, then `time <RFC 3339>` when there is a time. The spec allows
    /// extension lines after the first three (it does not recommend them,
    /// as monitors cannot audit them); `time` is the only one vigil writes.
    pub fn body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        if let Some(t) = &self.time {
            s.push_str("time ");
            s.push_str(t);
            s.push('\n');
        }
        s
    }

    /// Parses a note text written by [`Checkpoint::body`]. Unknown extension
    /// lines are refused: a checkpoint that says more than vigil can keep is
    /// not one vigil wrote.
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let Some(text) = text.strip_suffix('\n') else {
            return Err(body_err(
                text.split('\n').count(),
                "end",
                "the text must end with a newline",
            ));
        };
        let lines: Vec<&str> = text.split('\n').collect();

        let origin = lines.first().copied().unwrap_or_default();
        if origin.is_empty() {
            return Err(body_err(1, "origin", "empty"));
        }
        if origin.chars().any(char::is_control) {
            return Err(body_err(1, "origin", "contains a control character"));
        }

        let size_line = lines
            .get(1)
            .ok_or_else(|| body_err(2, "tree size", "missing"))?;
        let size = parse_size(size_line).ok_or_else(|| {
            body_err(
                2,
                "tree size",
                format!("{size_line:?} is not a decimal number without leading zeros"),
            )
        })?;

        let root_line = lines
            .get(2)
            .ok_or_else(|| body_err(3, "root hash", "missing"))?;
        let root: Hash = B64
            .decode(root_line)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                body_err(
                    3,
                    "root hash",
                    format!("{root_line:?} is not the base64 of 32 bytes"),
                )
            })?;

        let mut time = None;
        for (i, line) in lines.iter().enumerate().skip(3) {
            let n = i + 1;
            if line.is_empty() {
                return Err(body_err(n, "extension", "empty line"));
            }
            let Some(t) = line.strip_prefix("time ") else {
                return Err(body_err(
                    n,
                    "extension",
                    format!("unknown extension line {line:?}"),
                ));
            };
            if time.is_some() {
                return Err(body_err(n, "time", "a second time line"));
            }
            if chrono::DateTime::parse_from_rfc3339(t).is_err() {
                return Err(body_err(n, "time", format!("{t:?} is not RFC 3339")));
            }
            time = Some(t.to_owned());
        }

        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            time,
        })
    }
}

/// ASCII decimal without leading zeros (except `0` itself), in range.
fn parse_size(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// Key names: non-empty, no Unicode spaces, no `+`.
fn check_name(name: &str) -> Result<(), CheckpointError> {
    if name.is_empty() {
        return Err(CheckpointError::Key("the key name is empty".into()));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) || name.contains('+') {
        return Err(CheckpointError::Key(format!(
            "key name {name:?} must not contain spaces or '+'"
        )));
    }
    Ok(())
}

/// The key id: the first four bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).
fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(key.as_bytes());
    let sum: [u8; 32] = h.finalize().into();
    [sum[0], sum[1], sum[2], sum[3]]
}

/// Splits `<name>+<8 hex id>+<base64 key>` and checks the name and the
/// algorithm byte; returns the name, the id and the 32 key bytes.
fn split_key(s: &str) -> Result<(&str, [u8; 4], [u8; 32]), CheckpointError> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(CheckpointError::Key(
            "expected <name>+<key id>+<key>".into(),
        ));
    };
    check_name(name)?;
    let id: [u8; 4] = hex::decode(id_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CheckpointError::Key(format!("key id {id_hex:?} is not 8 hex digits")))?;
    let raw = B64
        .decode(key64)
        .map_err(|e| CheckpointError::Key(format!("key is not base64: {e}")))?;
    match raw.split_first() {
        Some((&ALG_ED25519, key)) => {
            let key = key.try_into().map_err(|_| {
                CheckpointError::Key(format!("an Ed25519 key has 32 bytes, not {}", key.len()))
            })?;
            Ok((name, id, key))
        }
        Some((alg, _)) => Err(CheckpointError::Key(format!(
            "unknown signature type {alg:#04x}; only Ed25519 (0x01) is supported"
        ))),
        None => Err(CheckpointError::Key("the key is empty".into())),
    }
}

/// A named Ed25519 key that signs checkpoints. Its secret never appears in
/// `Debug` output.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    key: SigningKey,
}

impl SignerKey {
    /// A new key with a random seed.
    pub fn generate(name: &str) -> Result<Self, CheckpointError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| CheckpointError::Key(format!("no randomness for a new key: {e}")))?;
        let key = SigningKey::from_bytes(&seed);
        seed.fill(0);
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ seed)>`, checking
    /// that the id is the id of the key.
    pub fn parse(s: &str) -> Result<Self, CheckpointError> {
        let rest = s.trim_end().strip_prefix(PRIVATE_PREFIX).ok_or_else(|| {
            CheckpointError::Key(format!("a signer key starts with {PRIVATE_PREFIX}"))
        })?;
        let (name, id, seed) = split_key(rest)?;
        let key = SigningKey::from_bytes(&seed);
        if key_id(name, &key.verifying_key()) != id {
            return Err(CheckpointError::Key(format!(
                "key id {} does not match the key",
                hex::encode(id)
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The encoded signer key, secret included. Deliberately not `Display`,
    /// so that `{}` in a log line cannot print it.
    #[allow(clippy::inherent_to_string)]
    pub fn to_string(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        let s = format!(
            "{PRIVATE_PREFIX}{}+{}+{}",
            self.name,
            hex::encode(key_id(&self.name, &self.key.verifying_key())),
            B64.encode(&raw)
        );
        raw.fill(0);
        s
    }

    /// The public half, for those who check the signatures.
    pub fn verifier(&self) -> VerifierKey {
        let key = self.key.verifying_key();
        VerifierKey {
            id: key_id(&self.name, &key),
            name: self.name.clone(),
            key,
        }
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("verifier", &self.verifier().to_string())
            .finish_non_exhaustive()
    }
}

/// A named Ed25519 public key that checks checkpoint signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl VerifierKey {
    /// Parses `<name>+<key id>+<base64(0x01 ‖ public key)>`, checking that
    /// the id is the id of the key.
    pub fn parse(s: &str) -> Result<Self, CheckpointError> {
        let (name, id, bytes) = split_key(s.trim_end())?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| CheckpointError::Key("not an Ed25519 public key".into()))?;
        if key_id(name, &key) != id {
            return Err(CheckpointError::Key(format!(
                "key id {} does not match the key",
                hex::encode(id)
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.id),
            B64.encode(raw)
        )
    }
}

/// The checkpoint as a signed note: its body, a blank line and one signature
/// line, `— <key name> <base64(key id ‖ Ed25519 signature of the body)>`.
pub fn sign(key: &SignerKey, checkpoint: &Checkpoint) -> String {
    sign_text(key, &checkpoint.body())
}

/// Signs any note text (ending in a newline) as a signed note.
pub(super) fn sign_text(key: &SignerKey, text: &str) -> String {
    let sig = key.key.sign(text.as_bytes());
    let mut blob = Vec::with_capacity(68);
    blob.extend_from_slice(&key_id(&key.name, &key.key.verifying_key()));
    blob.extend_from_slice(&sig.to_bytes());
    format!("{text}\n{SIG_PREFIX}{} {}\n", key.name, B64.encode(blob))
}

/// Checks a signed note against `verifier` and parses its checkpoint.
/// Signature lines of other keys are ignored; the note is refused unless a
/// line of this key is present, and refused if one of them does not verify.
pub fn open(note: &str, verifier: &VerifierKey) -> Result<Checkpoint, CheckpointError> {
    Checkpoint::parse_body(open_text(note, verifier)?)
}

/// Checks a signed note against `verifier` and returns its text.
pub(super) fn open_text<'a>(
    note: &'a str,
    verifier: &VerifierKey,
) -> Result<&'a str, CheckpointError> {
    let malformed = |why: &str| CheckpointError::Note(why.to_owned());
    if note.chars().any(|c| c.is_ascii_control() && c != '\n') {
        return Err(malformed("control character other than newline"));
    }
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| malformed("no blank line before the signatures"))?;
    let (text, sigs) = (&note[..=split], &note[split + 2..]);
    let Some(sigs) = sigs.strip_suffix('\n') else {
        return Err(malformed("the signatures must end with a newline"));
    };

    let mut verified = false;
    for (i, line) in sigs.split('\n').enumerate() {
        if i >= MAX_SIGNATURES {
            return Err(malformed("too many signatures"));
        }
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| malformed("a signature line must start with an em dash and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| malformed("a signature line needs a key name and a signature"))?;
        if check_name(name).is_err() {
            return Err(malformed("invalid key name in a signature line"));
        }
        let blob = B64
            .decode(b64)
            .map_err(|_| malformed("a signature is not base64"))?;
        if blob.len() < 5 {
            return Err(malformed("a signature is too short"));
        }
        if name != verifier.name || blob[..4] != verifier.id {
            continue;
        }
        let ok = Signature::from_slice(&blob[4..])
            .map(|sig| verifier.key.verify_strict(text.as_bytes(), &sig).is_ok())
            .unwrap_or(false);
        if !ok {
            return Err(CheckpointError::BadSignature(verifier.to_string()));
        }
        verified = true;
    }
    if !verified {
        return Err(CheckpointError::Unsigned(verifier.to_string()));
    }
    Ok(text)
}

/// Writes the signer key to a new file of mode 0600. An existing file is
/// never overwritten.
pub fn write_key_file(path: &Path, key: &SignerKey) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => CheckpointError::KeyFileExists(path.to_owned()),
            _ => io(e),
        })?;
    let mut text = key.to_string();
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)
}

/// Reads a signer key file, refusing one that group or others can access.
pub fn read_key_file(path: &Path) -> Result<SignerKey, CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    // The mode of the file we opened, not of whatever is at `path` now.
    let mode = file.metadata().map_err(io)?.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(CheckpointError::KeyFileMode {
            path: path.to_owned(),
            mode,
        });
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    SignerKey::parse(&text)
}
