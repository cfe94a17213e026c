//! What the fuzz targets share: the Beslan import folder, the properties an
//! import must keep, and a signed-note signer written from the C2SP specs
//! (not from vigil's code) to check vigil's checkpoints against.

use std::sync::LazyLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use vigil::files::{self, Folder};
use vigil::model::{Dataset, Table};

/// The five files of the Beslan import folder, as the repository holds them.
pub const BESLAN: [(Table, &[u8]); 5] = [
    (
        Table::Event,
        include_bytes!("../../imports/beslan-2004/event.csv"),
    ),
    (
        Table::Sources,
        include_bytes!("../../imports/beslan-2004/sources.csv"),
    ),
    (
        Table::Figures,
        include_bytes!("../../imports/beslan-2004/figures.csv"),
    ),
    (
        Table::Claims,
        include_bytes!("../../imports/beslan-2004/claims.csv"),
    ),
    (
        Table::Rules,
        include_bytes!("../../imports/beslan-2004/rules.csv"),
    ),
];

/// The Beslan dataset, parsed once.
pub static BESLAN_DATASET: LazyLock<Dataset> = LazyLock::new(|| {
    Folder::from_bytes(BESLAN.iter().map(|(t, b)| (*t, b.to_vec())))
        .parse()
        .unwrap_or_else(|e| panic!("the Beslan folder does not parse: {e:?}"))
});

/// Parses an import folder and checks what must hold whatever the bytes:
///
/// * parsing never panics, and a refusal names at least one problem, each
///   in one of the five files, with lines and columns counted from 1;
/// * a folder that parses can be checked (`checks::run`, as an import does);
/// * it exports, the export parses back to the same dataset in canonical
///   order, and exporting that gives the same bytes again.
pub fn check_folder(files: impl IntoIterator<Item = (Table, Vec<u8>)>) {
    let folder = Folder::from_bytes(files);
    let ds = match folder.parse() {
        Ok(ds) => ds,
        Err(errors) => {
            assert!(!errors.is_empty(), "a refused folder names no problem");
            for e in &errors {
                assert!(
                    Table::ALL.iter().any(|t| t.file_name() == e.file),
                    "{e}: not one of the five files"
                );
                assert!(e.line.is_none_or(|l| l >= 1), "{e}: line 0");
                assert!(e.column.is_none_or(|c| c >= 1), "{e}: column 0");
            }
            return;
        }
    };
    let report = vigil::checks::run(&ds);
    let _ = report.to_text();

    let written = files::write(&ds).unwrap_or_else(|e| panic!("cannot export: {e}"));
    let again = Folder::from_bytes(written.clone())
        .parse()
        .unwrap_or_else(|e| panic!("the export of a dataset that parsed does not parse: {e:?}"));
    let mut sorted = ds;
    sorted.sort();
    assert_eq!(again, sorted, "the export reads back as another dataset");
    let rewritten = files::write(&again).unwrap_or_else(|e| panic!("cannot export: {e}"));
    assert_eq!(rewritten, written, "exporting twice gives different bytes");
}

/// An Ed25519 key of a signed note, encoded and used as the C2SP
/// signed-note spec and golang.org/x/mod/sumdb/note say, independently of
/// vigil's `audit::checkpoint`.
pub struct NoteKey {
    name: String,
    key: SigningKey,
}

impl NoteKey {
    /// The key with this name and this 32-byte seed.
    pub fn new(name: &str, seed: [u8; 32]) -> Self {
        Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The first four bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).
    fn id(&self) -> [u8; 4] {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update(b"\n\x01");
        h.update(self.key.verifying_key().as_bytes());
        let sum = h.finalize();
        [sum[0], sum[1], sum[2], sum[3]]
    }

    /// `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>`.
    pub fn signer_text(&self) -> String {
        let mut raw = vec![0x01];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.id()),
            B64.encode(raw)
        )
    }

    /// `<name>+<hex id>+<base64(0x01 ‖ public key)>`.
    pub fn verifier_text(&self) -> String {
        let mut raw = vec![0x01];
        raw.extend_from_slice(self.key.verifying_key().as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.id()),
            B64.encode(raw)
        )
    }

    /// `text`, a blank line and the signature line
    /// `— <name> <base64(id ‖ Ed25519 signature of text)>`.
    pub fn sign(&self, text: &str) -> String {
        let mut blob = self.id().to_vec();
        blob.extend_from_slice(&self.key.sign(text.as_bytes()).to_bytes());
        format!("{text}\n\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}
