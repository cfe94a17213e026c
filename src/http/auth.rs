//! Who is asking: sessions (cookie + CSRF token) and API tokens (Bearer), as
//! extractors. A handler states the role it needs in the type it takes —
//! `Who<Curator>`, `Who<Reviewer>` — so no handler can forget the check.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;

use super::{blocking, AppState};
use crate::accounts::{self, Permission, Principal};
use crate::error::{Error, Result};
use crate::service::{self, Context};

/// The permission a handler needs, as a type, from the one policy in
/// [`accounts::Permission`].
pub trait Need: 'static {
    const PERMISSION: Permission;
}

macro_rules! need {
    ($($(#[$doc:meta])* $name:ident = $permission:ident;)+) => {$(
        $(#[$doc])*
        pub struct $name;
        impl Need for $name {
            const PERMISSION: Permission = Permission::$permission;
        }
    )+};
}

need! {
    /// Drafts and edits changesets.
    Curator = EditChangesets;
    /// Approves and rejects changesets.
    Reviewer = Review;
    /// Reads the audit log.
    Auditor = ReadAudit;
    /// Manages accounts and tokens.
    Admin = ManageAccounts;
    /// Anyone with an account: reads changesets and drafts.
    Member = ReadDrafts;
}

/// The name of the session cookie.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-vigil-session"
    } else {
        "vigil-session"
    }
}

/// The session cookie that carries `id`; an empty `id` removes it.
pub fn session_cookie(state: &AppState, id: &str) -> Cookie<'static> {
    let mut c = Cookie::build(cookie_name(state.config.secure_cookies), id.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config.secure_cookies)
        .finish();
    if id.is_empty() {
        c.make_removal();
    }
    c
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Error::Io("the application state is missing".into()))
}

/// vigil's id of a request: new and random for every request, whatever the
/// client sent, so that no two requests share one. Answered in
/// `X-Request-Id`.
pub fn request_id(req: &HttpRequest) -> std::sync::Arc<str> {
    if let Some(id) = req.extensions().get::<RequestId>() {
        return std::sync::Arc::clone(&id.0);
    }
    let id = new_request_id();
    req.extensions_mut()
        .insert(RequestId(std::sync::Arc::clone(&id)));
    id
}

/// The client's own `X-Request-Id`, when it is short and plain: kept beside
/// vigil's id in the audit log, never instead of it.
pub fn client_request_id(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_string)
}

#[derive(Clone)]
struct RequestId(std::sync::Arc<str>);

/// A new request id: 128 bits, 32 hex digits, unique per request and not
/// to be guessed from another: a counter through two SipHash functions
/// keyed once per process from the system's randomness, so no system call
/// per request (ids are not secrets).
fn new_request_id() -> std::sync::Arc<str> {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEYS: std::sync::OnceLock<(
        std::collections::hash_map::RandomState,
        std::collections::hash_map::RandomState,
    )> = std::sync::OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let (a, b) = KEYS.get_or_init(|| {
        (
            std::collections::hash_map::RandomState::new(),
            std::collections::hash_map::RandomState::new(),
        )
    });
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let mut bits = [0u8; 16];
    bits[..8].copy_from_slice(&a.hash_one(n).to_be_bytes());
    bits[8..].copy_from_slice(&b.hash_one(n).to_be_bytes());
    // 16 bytes fill the 32 digits exactly, and hex digits are ASCII.
    let mut digits = [b'0'; 32];
    let _ = hex::encode_to_slice(bits, &mut digits);
    String::from_utf8_lossy(&digits).into()
}

/// The client's address: the peer's, or behind a trusted proxy the one
/// `X-Forwarded-For` names (see [`super::proxy`]).
pub fn client_address(req: &HttpRequest, state: &AppState) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    if state.trusted_proxies.is_empty() {
        return Some(peer.to_string());
    }
    let hops: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    Some(super::proxy::client(peer, &hops, &state.trusted_proxies).to_string())
}

/// The audit context of a request: actor unknown yet, request id, the peer's
/// address, and the time by the state's clock.
pub fn context(req: &HttpRequest, state: &AppState) -> Context {
    Context {
        actor: "anonymous".into(),
        request_id: Some(request_id(req).to_string()),
        client_request_id: client_request_id(req),
        client: client_address(req, state),
        now: state.clock.now(),
    }
}

/// Who made the request, authenticated, with the audit context; the session
/// id when it came with a session.
pub struct Caller {
    pub principal: Principal,
    pub ctx: Context,
    pub session: Option<String>,
}

impl Caller {
    /// The CSRF token that state-changing requests of this session carry.
    pub fn csrf(&self) -> Option<String> {
        self.session.as_deref().map(accounts::csrf_token)
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Authenticates the request. With a session, a state-changing request must
/// carry the session's CSRF token: in `X-CSRF-Token`, or as `form_csrf` when
/// the caller read it from a form.
pub async fn authenticate(req: &HttpRequest, form_csrf: Option<&str>) -> Result<Caller> {
    identify(req, Some(form_csrf)).await
}

/// Who sends a request whose CSRF token is inside a body not read yet (an
/// upload): the session or token, checked before a byte of the body is
/// read. The caller must then check the token with [`check_csrf`].
pub async fn authenticate_before_body(req: &HttpRequest) -> Result<Caller> {
    identify(req, None).await
}

/// The CSRF token a session's form carried, checked once the body is read.
pub fn check_csrf(caller: &Caller, sent: &str) -> Result<()> {
    match caller.csrf() {
        Some(want) if !accounts::same_secret(sent, &want) => Err(Error::Forbidden(
            "the CSRF token is missing or wrong: reload the page and send the form again".into(),
        )),
        _ => Ok(()),
    }
}

/// `csrf`: `Some` checks the token now (from the form, else the header);
/// `None` leaves it to [`check_csrf`].
async fn identify(req: &HttpRequest, csrf: Option<Option<&str>>) -> Result<Caller> {
    let state = state_of(req)?;
    let ctx = context(req, &state);
    if let Some(token) = bearer(req) {
        let st = state.clone();
        let c = ctx.clone();
        let principal =
            blocking(move || service::accounts::token_principal(&st.db, &c, &token)).await?;
        let ctx = ctx.as_actor(principal.actor());
        return Ok(Caller {
            principal,
            ctx,
            session: None,
        });
    }
    let Some(id) = req
        .cookie(cookie_name(state.config.secure_cookies))
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Err(Error::Unauthorized(
            "log in first: no session cookie or Bearer token came with the request".into(),
        ));
    };
    if !safe(req.method()) {
        // Every change made with the session cookie comes from vigil's own
        // pages, whether its token is checked now or once its body is read.
        same_origin(req)?;
    }
    if let (false, Some(form_csrf)) = (safe(req.method()), csrf) {
        let sent = form_csrf.map(str::to_string).or_else(|| {
            req.headers()
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
        let ok = sent.is_some_and(|s| accounts::same_secret(&s, &accounts::csrf_token(&id)));
        if !ok {
            return Err(Error::Forbidden(
                "the CSRF token is missing or wrong: send the token the log-in returned in X-CSRF-Token"
                    .into(),
            ));
        }
    }
    let st = state.clone();
    let sid = id.clone();
    let now = ctx.now;
    let principal = blocking(move || {
        service::accounts::session_principal(&st.db, &st.config.sessions, &sid, now)
    })
    .await?;
    let ctx = ctx.as_actor(principal.actor());
    Ok(Caller {
        principal,
        ctx,
        session: Some(id),
    })
}

/// The second line against cross-site requests: a browser says where a
/// request comes from (`Sec-Fetch-Site`, `Origin`); one from another site
/// is refused. Clients that send neither (scripts, older browsers) rely on
/// the CSRF token alone.
pub fn same_origin(req: &HttpRequest) -> Result<()> {
    let text = |name: &str| req.headers().get(name).map(|v| v.to_str().unwrap_or("?"));
    let refused = |what: String| {
        Err(Error::Forbidden(format!(
            "{what}: vigil accepts changes only from its own pages"
        )))
    };
    if let Some(site) = text("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return refused(format!(
                "the request came from another site (Sec-Fetch-Site: {site})"
            ));
        }
    }
    // Under vigil's `Referrer-Policy: no-referrer` browsers send
    // `Origin: null` with the panel's own forms: it says nothing, and is
    // left to `Sec-Fetch-Site` and the token.
    if let Some(origin) = text("origin").filter(|o| *o != "null") {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        let origin_host = origin
            .split_once("://")
            .map(|(_, h)| h.trim_end_matches('/'));
        let same = match (origin_host, host) {
            (Some(o), Some(h)) => o.eq_ignore_ascii_case(h),
            _ => false,
        };
        if !same {
            return refused(format!(
                "the request came from another origin (Origin: {origin})"
            ));
        }
    }
    Ok(())
}

/// The name of the cookie that carries the log-in form's token.
pub fn login_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-vigil-login"
    } else {
        "vigil-login"
    }
}

/// The cookie of the log-in form's pre-session token (a double-submit
/// token: the form carries the same value); an empty `token` removes it.
pub fn login_cookie(state: &AppState, token: &str) -> Cookie<'static> {
    let mut c = Cookie::build(
        login_cookie_name(state.config.secure_cookies),
        token.to_string(),
    )
    .path("/")
    .http_only(true)
    .same_site(SameSite::Strict)
    .secure(state.config.secure_cookies)
    .finish();
    if token.is_empty() {
        c.make_removal();
    }
    c
}

/// Whether a posted log-in form's token is the one its cookie holds: the
/// form came from vigil's log-in page, in this browser.
pub fn login_token_ok(req: &HttpRequest, state: &AppState, sent: &str) -> bool {
    req.cookie(login_cookie_name(state.config.secure_cookies))
        .is_some_and(|c| !c.value().is_empty() && accounts::same_secret(c.value(), sent))
}

pub fn allowed<N: Need>(p: &Principal) -> Result<()> {
    p.require(N::PERMISSION)
}

/// An authenticated caller who holds one of `N`'s roles.
pub struct Who<N: Need> {
    pub caller: Caller,
    _need: PhantomData<N>,
}

impl<N: Need> std::ops::Deref for Who<N> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl<N: Need> FromRequest for Who<N> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(&req, None).await?;
            allowed::<N>(&caller.principal)?;
            Ok(Who {
                caller,
                _need: PhantomData,
            })
        })
    }
}

/// A form posted from the admin panel: carries its CSRF token as a field.
pub trait Posted {
    fn csrf_token(&self) -> &str;
}

/// A caller with one of `N`'s roles who posted the form `T`; the form's
/// CSRF token is checked against the session.
pub struct WhoPosted<N: Need, T> {
    pub caller: Caller,
    pub form: T,
    _need: PhantomData<N>,
}

impl<N: Need, T: DeserializeOwned + Posted + 'static> FromRequest for WhoPosted<N, T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let form = super::form::Form::<T>::from_request(&req, payload);
        Box::pin(async move {
            let form = form.await?.into_inner();
            let caller = authenticate(&req, Some(form.csrf_token())).await?;
            allowed::<N>(&caller.principal)?;
            Ok(WhoPosted {
                caller,
                form,
                _need: PhantomData,
            })
        })
    }
}
