//! Checkpoint bodies and signed notes. Whatever the text:
//!
//! * `Checkpoint::parse_body` never panics, and a body that parses is the
//!   body (`body()`) of what it parses to, byte for byte: vigil reads only
//!   what it writes;
//! * `checkpoint::open` never panics on the text as a note, and what it
//!   opens is a body that the note starts with;
//! * the text signed as a note by an independent signer (the C2SP
//!   signed-note spec, not vigil's code) opens exactly when it parses as a
//!   body, to the same checkpoint; vigil's own signature of that checkpoint
//!   is the same note, byte for byte (Ed25519 signatures are
//!   deterministic); and another key, even of the same name, opens nothing.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vigil::audit::checkpoint::{self, Checkpoint, SignerKey, VerifierKey};
use vigil_fuzz::NoteKey;

struct Keys {
    note: NoteKey,
    signer: SignerKey,
    verifier: VerifierKey,
    other: VerifierKey,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let note = NoteKey::new("vigil.fuzz", [7; 32]);
    let signer = SignerKey::parse(&note.signer_text()).expect("the signer key parses");
    let verifier = VerifierKey::parse(&note.verifier_text()).expect("the verifier key parses");
    assert_eq!(signer.verifier(), verifier);
    assert_eq!(verifier.to_string(), note.verifier_text());
    let other = VerifierKey::parse(&NoteKey::new("vigil.fuzz", [8; 32]).verifier_text())
        .expect("the other verifier key parses");
    Keys {
        note,
        signer,
        verifier,
        other,
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let keys = &*KEYS;

    let parsed = Checkpoint::parse_body(text).ok();
    if let Some(c) = &parsed {
        assert_eq!(c.body(), text, "the body does not print back as read");
    }

    if let Ok(c) = checkpoint::open(text, &keys.verifier) {
        assert!(text.starts_with(&c.body()), "opened a body the note lacks");
    }

    let note = keys.note.sign(text);
    let opened = checkpoint::open(&note, &keys.verifier);
    assert_eq!(
        opened.as_ref().ok(),
        parsed.as_ref(),
        "{note:?} opens as {opened:?}, while the body parses as {parsed:?}"
    );
    if let Some(c) = &parsed {
        assert_eq!(checkpoint::sign(&keys.signer, c), note);
    }
    assert!(
        checkpoint::open(&note, &keys.other).is_err(),
        "another key opens the note"
    );
});
