//! The panel's forms (`application/x-www-form-urlencoded`): read with a
//! cap while streaming, and every field held to the text policy
//! ([`crate::text`]) before the form is decoded, the same policy as JSON
//! bodies, CSV imports and the command line.

use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::problem::HttpError;
use crate::error::Error;

/// A form's body over this many bytes is refused with 413: the longest
/// text a field may hold, percent-encoded, with room for the other fields.
pub const FORM_LIMIT: usize = 256 * 1024;

/// Decodes a form's body as `T`. Every field, names and values, is checked
/// against the text policy first, so a refusal names the field: U+0000
/// (even percent-encoded), or more characters than the field may hold.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| Error::BadRequest(format!("the form is not valid: {e}")))?;
    for (name, value) in &pairs {
        crate::text::check("field name", name)
            .and_then(|()| crate::text::check(name, value))
            .map_err(|e| Error::BadRequest(format!("the form's field {e}")))?;
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|e| Error::BadRequest(format!("the form is not valid: {e}")))
}

/// A form posted to the panel, as `T`: see [`decode`].
pub struct Form<T>(pub T);

impl<T> Form<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = HttpError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, HttpError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let form = req.content_type() == "application/x-www-form-urlencoded";
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !form {
                return Err(HttpError::UnsupportedMediaType(
                    "send the form as application/x-www-form-urlencoded".into(),
                ));
            }
            let too_large =
                || HttpError::TooLarge(format!("the form may have at most {FORM_LIMIT} bytes"));
            if length.is_some_and(|n| n > FORM_LIMIT) {
                return Err(too_large());
            }
            let mut body = Vec::with_capacity(length.unwrap_or(0));
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|e| Error::BadRequest(format!("the form was not read: {e}")))?;
                if body.len() + chunk.len() > FORM_LIMIT {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(decode(&body).map(Form)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Login {
        username: String,
        password: String,
    }

    #[test]
    fn fields_are_held_to_the_text_policy() {
        let ok: Login = decode(b"username=ada&password=p%C3%A4ss+word").unwrap();
        assert_eq!(ok.password, "päss word");
        let e = decode::<Login>(b"username=x%00y&password=p").unwrap_err();
        assert!(e.to_string().contains("username"), "{e}");
        assert!(e.to_string().contains("U+0000"), "{e}");
        let long = format!("username={}&password=p", "a".repeat(65));
        let e = decode::<Login>(long.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("username: 65 characters"), "{e}");
        let e = decode::<Login>(b"username=a&password=b&x%00=1").unwrap_err();
        assert!(e.to_string().contains("field name"), "{e}");
        assert!(decode::<Login>(b"username=a").is_err());
    }
}
