//! The panel's form decoder (`vigil::http::form::decode`). Whatever the
//! bytes, it never panics; a form it accepts holds only text the text policy
//! accepts, under each field's name; a form with any field the policy
//! refuses is refused, whatever shape it is decoded as; and the fields of a
//! form that decodes re-encode to a form that decodes to the same fields.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use vigil::http::form::decode;
use vigil::text;

/// The log-in form's shape.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Login {
    username: String,
    password: String,
    #[serde(default)]
    login_token: String,
}

/// The item editor's shape: a token, an ETag, and any fields.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Item {
    csrf_token: String,
    etag: String,
    #[serde(flatten)]
    fields: BTreeMap<String, serde_json::Value>,
}

fuzz_target!(|data: &[u8]| {
    let login = decode::<Login>(data);
    let item = decode::<Item>(data);
    let pairs = decode::<Vec<(String, String)>>(data);
    let raw: Result<Vec<(String, String)>, _> = serde_urlencoded::from_bytes(data);
    if let Ok(l) = &login {
        for (name, value) in [
            ("username", &l.username),
            ("password", &l.password),
            ("login_token", &l.login_token),
        ] {
            assert!(text::check(name, value).is_ok(), "{name} = {value:?} was let through");
        }
    }
    if let Ok(i) = &item {
        for (name, value) in &i.fields {
            if let Some(t) = value.as_str() {
                assert!(text::check(name, t).is_ok(), "{name} = {t:?} was let through");
            }
        }
    }
    if let Ok(raw) = &raw {
        let refused = raw.iter().any(|(k, v)| {
            text::check("field name", k).is_err() || text::check(k, v).is_err()
        });
        if refused {
            assert!(login.is_err() && item.is_err() && pairs.is_err(), "a refused field was let through");
        } else {
            assert_eq!(pairs.as_ref().ok(), Some(raw), "the fields decode differently");
            let again = serde_urlencoded::to_string(raw).expect("fields encode");
            let back = decode::<Vec<(String, String)>>(again.as_bytes())
                .unwrap_or_else(|e| panic!("{again:?} does not decode: {e}"));
            assert_eq!(&back, raw, "{again:?}");
        }
    } else {
        assert!(login.is_err() && item.is_err() && pairs.is_err());
    }
});
