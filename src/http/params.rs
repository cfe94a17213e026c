//! Query and path parameters: a bad one answers 400 problem+json that names
//! it, never a bare parse error.

use std::future::{ready, Ready};

use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::Error;

/// Beyond this many parameters a bad query is not searched for the culprit.
const SEARCHED: usize = 32;

/// The query string as `T`, like `web::Query`, but a bad parameter answers
/// 400 naming it (`query parameter 'version' ("abc") is not valid: it
/// must be a whole number`).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(parse_query(req.query_string()).map(Query))
    }
}

fn deserialize<T: DeserializeOwned>(query: &str) -> Result<T, String> {
    web::Query::<T>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|e| match e {
            actix_web::error::QueryPayloadError::Deserialize(d) => d.to_string(),
            other => other.to_string(),
        })
}

/// Parses a query string as `T`. On failure the parameter at fault is the
/// first one without which the query no longer fails the same way.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
    let err = match deserialize::<T>(query) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    // serde names the parameter when one is missing, unknown or repeated.
    if err.contains(" field `") {
        return Err(Error::BadRequest(plain(&err)));
    }
    let parts: Vec<&str> = query.split('&').collect();
    let culprit = (parts.len() <= SEARCHED)
        .then(|| {
            (0..parts.len()).find(|&i| {
                let rest: Vec<&str> = parts
                    .iter()
                    .enumerate()
                    .filter_map(|(j, p)| (j != i).then_some(*p))
                    .collect();
                deserialize::<T>(&rest.join("&")).err().as_deref() != Some(err.as_str())
            })
        })
        .flatten()
        .and_then(|i| {
            web::Query::<Vec<(String, String)>>::from_query(parts[i])
                .ok()
                .and_then(|q| q.into_inner().into_iter().next())
        });
    Err(Error::BadRequest(match culprit {
        Some((name, value)) => format!(
            "query parameter '{name}' ({value:?}) is not valid: {}",
            plain(&err)
        ),
        None => format!("bad query: {}", plain(&err)),
    }))
}

/// The parser's words, where they are Rust's, in words for people.
fn plain(err: &str) -> String {
    let err = err
        .replace("invalid digit found in string", "it must be a whole number")
        .replace("cannot parse integer from empty string", "it is empty")
        .replace(
            "number too large to fit in target type",
            "the number is too large",
        )
        .replace(
            "number too small to fit in target type",
            "the number is too small",
        );
    let named = |word: &str| {
        let rest = err.split_once(word)?.1;
        let (name, after) = rest.split_once('`')?;
        Some((name.to_string(), after.to_string()))
    };
    if let Some((name, expected)) = named("unknown field `") {
        let expected = expected
            .trim_start_matches(", expected ")
            .replace("one of ", "")
            .replace('`', "");
        return format!("'{name}' is not a parameter here; it takes {expected}");
    }
    if let Some((name, _)) = named("missing field `") {
        return format!("the parameter '{name}' is missing");
    }
    if let Some((name, _)) = named("duplicate field `") {
        return format!("the parameter '{name}' is given more than once");
    }
    err
}

/// For HTML pages: the query string as `T`, with every parameter whose
/// name is not in `known` left out first, so that a shared link
/// (`?utm_source=…&fbclid=…`) shows the page. A known parameter with a bad
/// value still answers 400 naming it. The JSON API uses [`Query`], which
/// refuses unknown parameters.
pub fn parse_page_query<T: DeserializeOwned>(query: &str, known: &[&str]) -> Result<T, Error> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|e| Error::BadRequest(format!("bad query: {e}")))?;
    let kept: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(name, _)| known.contains(&name.as_str()))
        .collect();
    let query = serde_urlencoded::to_string(&kept)
        .map_err(|e| Error::BadRequest(format!("bad query: {e}")))?;
    parse_query(&query)
}

/// Why a request to the API is refused before it is routed, if it is: a
/// path or query parameter holds the NUL character (U+0000), which no text
/// in vigil may hold (PostgreSQL cannot store it). 400 naming the
/// parameter, the same on every backend. Costs a request without `%00`
/// two substring searches; only one with it is matched against the
/// routes, to name the parameter.
pub fn nul_refused(req: &actix_web::HttpRequest) -> Option<Error> {
    // The path as sent, still percent-encoded: NUL arrives as %00 (a raw
    // NUL never passes the request line's parser).
    let path = req.path();
    if !path.starts_with("/api/") {
        return None;
    }
    let q = req.query_string();
    let in_query = q.contains("%00") || q.contains('\0');
    let in_path = path.contains("%00");
    if !in_path && !in_query {
        return None;
    }
    let what = in_path
        .then(|| {
            let pattern = req.match_pattern()?;
            parameter_at(&pattern, path).map(|name| format!("path parameter '{name}'"))
        })
        .flatten()
        .or_else(|| {
            web::Query::<Vec<(String, String)>>::from_query(q)
                .ok()?
                .into_inner()
                .into_iter()
                .find(|(k, v)| k.contains('\0') || v.contains('\0'))
                .map(|(name, _)| format!("query parameter '{name}'"))
        })?;
    Some(Error::BadRequest(format!("{what}: {}", crate::error::NUL)))
}

/// The name of the route parameter (`{key}` of `/a/{id}/{key}`) whose
/// segment of `path` holds `%00`. None past a tail parameter
/// (`{tail:.*}`, the CORS preflight's): any path matches it, and routing
/// answers such a path as it answers any other.
fn parameter_at(pattern: &str, path: &str) -> Option<String> {
    let mut segments = path.split('/');
    for part in pattern.split('/') {
        if part.ends_with(".*}") {
            return None;
        }
        if segments.next()?.contains("%00") {
            return part
                .strip_prefix('{')
                .and_then(|p| p.strip_suffix('}'))
                .map(|p| p.split(':').next().unwrap_or(p).to_string());
        }
    }
    None
}

/// Bad path parameters (a changeset id that is not a number) answer 400
/// naming the parameter.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, req| {
        let err = match &err {
            actix_web::error::PathError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        // The router's message quotes the raw segment it could not parse.
        let named = req
            .match_info()
            .iter()
            .find(|(_, value)| err.contains(&format!("{value:?}")));
        Error::BadRequest(match named {
            Some((name, value)) => {
                format!(
                    "path parameter '{name}' ({value:?}) is not valid: {}",
                    plain(&err)
                )
            }
            None => format!("bad path: {err}"),
        })
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        actor: Option<String>,
        from: i64,
        after: Option<i64>,
    }

    fn detail(q: &str) -> String {
        match parse_query::<Q>(q) {
            Ok(v) => panic!("{q} parsed: {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct V {
        version: Option<i64>,
    }

    #[test]
    fn pages_ignore_parameters_they_do_not_know() {
        let v: V = parse_page_query("utm_source=x&fbclid=y", &["version"]).unwrap();
        assert_eq!(v, V { version: None });
        let v: V = parse_page_query("version=2&utm_source=x", &["version"]).unwrap();
        assert_eq!(v, V { version: Some(2) });
        let v: V = parse_page_query("", &["version"]).unwrap();
        assert_eq!(v, V { version: None });
        // A known parameter with a bad value is still named.
        let e = parse_page_query::<V>("version=two&fbclid=y", &["version"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'version'"), "{e}");
        // The API's parser stays strict.
        let e = parse_query::<V>("version=2&utm_source=x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'utm_source' is not a parameter here; it takes version"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_query_names_its_parameter() {
        assert!(parse_query::<Q>("from=1&after=2&actor=x").is_ok());
        let d = detail("actor=abc&from=1&after=abc");
        assert!(d.starts_with("query parameter 'after' (\"abc\")"), "{d}");
        let d = detail("from=99999999999999999999&actor=x");
        assert!(d.starts_with("query parameter 'from'"), "{d}");
        let d = detail("after=1");
        assert!(d.contains("the parameter 'from' is missing"), "{d}");
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct S {
            state: Option<crate::service::changesets::State>,
        }
        let d = parse_query::<S>("state=open").unwrap_err().to_string();
        assert!(d.starts_with("query parameter 'state' (\"open\")"), "{d}");
        let d = detail("from=1&nope=2");
        assert!(d.contains("'nope' is not a parameter here"), "{d}");
        let d = detail("from=1&after=%C3%A9");
        assert!(d.starts_with("query parameter 'after' (\"é\")"), "{d}");
    }

    #[test]
    fn nul_in_a_path_names_the_parameter_of_its_segment() {
        let at = |pattern: &str, path: &str| parameter_at(pattern, path);
        let p = "/api/v1/changesets/{id}/{table}/{key}";
        assert_eq!(
            at(p, "/api/v1/changesets/1/figures/a%00b").as_deref(),
            Some("key")
        );
        assert_eq!(
            at(p, "/api/v1/changesets/%00/figures/a").as_deref(),
            Some("id")
        );
        assert_eq!(
            at("/api/v1/events/{slug:[a-z-]+}", "/api/v1/events/x%00").as_deref(),
            Some("slug")
        );
        // Past a tail, and in no segment, nothing is named.
        assert_eq!(at("/api/v1/{tail:.*}", "/api/v1/x%00y"), None);
        assert_eq!(at(p, "/api/v1/changesets/1/figures/a"), None);
    }
}
