//! The key parsers. Whatever the text, `VerifierKey::parse` and
//! `SignerKey::parse` never panic, and a key that parses prints as text that
//! parses to the same key; a signer key's public half is a verifier key that
//! parses from its own text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil::audit::checkpoint::{SignerKey, VerifierKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = VerifierKey::parse(text) {
        let printed = v.to_string();
        assert_eq!(
            VerifierKey::parse(&printed).ok().as_ref(),
            Some(&v),
            "{text:?} prints as {printed:?}"
        );
        assert!(!v.name().is_empty() && !v.name().contains('+'));
    }
    if let Ok(s) = SignerKey::parse(text) {
        let again = SignerKey::parse(&s.to_string())
            .unwrap_or_else(|e| panic!("a signer key does not parse from its own text: {e}"));
        assert_eq!(again.name(), s.name());
        assert_eq!(again.verifier(), s.verifier());
        let v = s.verifier();
        assert_eq!(VerifierKey::parse(&v.to_string()).ok(), Some(v));
    }
});
