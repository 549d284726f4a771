//! READ at the RPC gateway: on a restricted chain every request must carry a token bound to an
//! account key, and the account must hold `READ`.
//!
//! A token is `<SS58 account>.<expiry, unix seconds>.<hex sr25519 signature>` over the SCALE
//! encoding of `(b"cloister/rpc-token/v1", genesis hash, account id, expiry)`, sent as
//! `Authorization: Bearer <token>` on the HTTP request or the WebSocket upgrade. Binding it to the
//! genesis keeps a token for one chain from opening another; the expiry, at most
//! [`MAX_TOKEN_LIFETIME_SECS`] ahead, limits what a leaked token gives away. No server state is
//! kept: the node checks the signature and asks the chain whether the account may read.
//!
//! [`AuthLayer`] is the HTTP middleware: a missing, malformed, expired or badly signed token gets
//! `401 Unauthorized`, a valid token of an account without `READ` gets `403 Forbidden`, both
//! with a JSON-RPC error body; nothing reaches the RPC methods. On an open chain it lets
//! everything through. `GET /genesis` answers the genesis hash without a token, since a client
//! needs it to make one.

use cloister_primitives::{AccountId, Hash};
use codec::Encode;
use jsonrpsee::{
    core::BoxError,
    server::{HttpBody, HttpRequest, HttpResponse},
};
use sp_core::{crypto::Ss58Codec, sr25519, Pair};
use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

/// What a token signs besides the chain, the account and the expiry.
pub const TOKEN_CONTEXT: &[u8] = b"cloister/rpc-token/v1";
/// Path of the public `GET` that tells the chain's genesis hash, which tokens sign.
pub const GENESIS_PATH: &str = "/genesis";
/// Longest accepted token lifetime: one day.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;

/// Why a token is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// No `Authorization: Bearer` header.
    #[error("this chain is restricted: send 'Authorization: Bearer <token>' (see `cloister --auth`)")]
    Missing,
    /// Not `account.expiry.signature`.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The expiry has passed.
    #[error("token expired")]
    Expired,
    /// The expiry is too far ahead.
    #[error("token lifetime exceeds {MAX_TOKEN_LIFETIME_SECS} s")]
    TooLong,
    /// The signature does not verify for this chain and account.
    #[error("bad token signature")]
    BadSignature,
    /// Valid token, but the account may not read this chain.
    #[error("account {0} lacks the READ permission")]
    NoRead(String),
}

fn payload(genesis: &Hash, account: &AccountId, expiry: u64) -> Vec<u8> {
    (TOKEN_CONTEXT, genesis, account, expiry).encode()
}

/// Makes a token for `pair`'s account on the chain `genesis`, valid until `expiry`.
pub fn make_token(pair: &sr25519::Pair, genesis: &Hash, expiry: u64) -> String {
    let account: AccountId = pair.public().into();
    let signature = pair.sign(&payload(genesis, &account, expiry));
    format!("{}.{expiry}.{}", account.to_ss58check(), hex::encode(signature.0))
}

/// Checks a token at time `now` (unix seconds); returns its account.
pub fn verify_token(token: &str, genesis: &Hash, now: u64) -> Result<AccountId, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(account), Some(expiry), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("expected <account>.<expiry>.<signature>"));
    };
    let account = AccountId::from_ss58check(account).map_err(|_| TokenError::Malformed("account is not SS58"))?;
    let expiry: u64 = expiry.parse().map_err(|_| TokenError::Malformed("expiry is not a number"))?;
    let signature: [u8; 64] = hex::decode(signature.trim_start_matches("0x"))
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(TokenError::Malformed("signature is not 64 bytes of hex"))?;
    if expiry < now {
        return Err(TokenError::Expired);
    }
    if expiry > now + MAX_TOKEN_LIFETIME_SECS {
        return Err(TokenError::TooLong);
    }
    let public = sr25519::Public::from_raw(*AsRef::<[u8; 32]>::as_ref(&account));
    if !sr25519::Pair::verify(&sr25519::Signature::from_raw(signature), payload(genesis, &account, expiry), &public) {
        return Err(TokenError::BadSignature);
    }
    Ok(account)
}

/// What the gateway asks the chain.
pub trait Gatekeeper: Send + Sync + 'static {
    /// Whether the chain is restricted now.
    fn restricted(&self) -> bool;
    /// The chain's genesis hash.
    fn genesis(&self) -> Hash;
    /// Whether `account` holds `READ` now.
    fn may_read(&self, account: &AccountId) -> bool;
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Decides a request by its headers.
pub fn authorize(headers: &http::HeaderMap, gate: &dyn Gatekeeper) -> Result<(), TokenError> {
    if !gate.restricted() {
        return Ok(());
    }
    let value = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or(TokenError::Missing)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(TokenError::Malformed("expected 'Bearer <token>'"))?;
    let account = verify_token(token, &gate.genesis(), now_secs())?;
    if !gate.may_read(&account) {
        return Err(TokenError::NoRead(account.to_ss58check()));
    }
    Ok(())
}

fn refusal(error: &TokenError) -> HttpResponse {
    let status = if matches!(error, TokenError::NoRead(_)) { 403u16 } else { 401u16 };
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": if status == 403 { -32003 } else { -32001 }, "message": error.to_string() },
    })
    .to_string();
    let mut builder = HttpResponse::builder().status(status).header("content-type", "application/json");
    if status == 401 {
        builder = builder.header("www-authenticate", "Bearer");
    }
    builder.body(HttpBody::from(body)).unwrap_or_else(|_| jsonrpsee::server::http::response::internal_error())
}

/// HTTP middleware enforcing READ (see the module docs).
#[derive(Clone)]
pub struct AuthLayer {
    gate: Option<Arc<dyn Gatekeeper>>,
}

impl AuthLayer {
    /// Enforces through `gate`; `None` lets everything through.
    pub fn new(gate: Option<Arc<dyn Gatekeeper>>) -> Self {
        Self { gate }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService { inner, gate: self.gate.clone() }
    }
}

/// The service [`AuthLayer`] wraps around the RPC server.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    gate: Option<Arc<dyn Gatekeeper>>,
}

impl<S, B> tower::Service<HttpRequest<B>> for AuthService<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse>,
    S::Error: Into<BoxError> + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        if let Some(gate) = &self.gate {
            // The genesis hash is public (every peer learns it); a client needs it to make a token.
            if request.method() == http::Method::GET && request.uri().path() == GENESIS_PATH {
                let body = serde_json::json!({ "genesis": gate.genesis() }).to_string();
                let response = HttpResponse::builder()
                    .status(200u16)
                    .header("content-type", "application/json")
                    .body(HttpBody::from(body))
                    .unwrap_or_else(|_| jsonrpsee::server::http::response::internal_error());
                return Box::pin(async move { Ok(response) });
            }
            if let Err(error) = authorize(request.headers(), gate.as_ref()) {
                tracing::debug!(target: "rpc", %error, "request refused");
                let response = refusal(&error);
                return Box::pin(async move { Ok(response) });
            }
        }
        let future = self.inner.call(request);
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Gate {
        reader: AccountId,
    }

    impl Gatekeeper for Gate {
        fn restricted(&self) -> bool {
            true
        }
        fn genesis(&self) -> Hash {
            Hash::repeat_byte(1)
        }
        fn may_read(&self, account: &AccountId) -> bool {
            *account == self.reader
        }
    }

    fn pair(suri: &str) -> sr25519::Pair {
        sr25519::Pair::from_string(suri, None).expect("dev key")
    }

    fn headers(token: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().expect("header"));
        headers
    }

    #[test]
    fn tokens_verify_for_their_chain_account_and_time() {
        let genesis = Hash::repeat_byte(1);
        let alice = pair("//Alice");
        let token = make_token(&alice, &genesis, 1_000);
        assert_eq!(verify_token(&token, &genesis, 900), Ok(alice.public().into()));
        assert_eq!(verify_token(&token, &genesis, 1_001), Err(TokenError::Expired));
        assert_eq!(verify_token(&token, &Hash::repeat_byte(2), 900), Err(TokenError::BadSignature));
        assert_eq!(
            verify_token(&make_token(&alice, &genesis, 900 + 2 * 86_400), &genesis, 900),
            Err(TokenError::TooLong)
        );
        // Another account's name on Alice's signature.
        let bob: AccountId = pair("//Bob").public().into();
        let forged = format!("{}.{}", bob.to_ss58check(), token.split_once('.').map(|(_, rest)| rest).unwrap_or(""));
        assert_eq!(verify_token(&forged, &genesis, 900), Err(TokenError::BadSignature));
        assert!(matches!(verify_token("nonsense", &genesis, 900), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn restricted_gateway_wants_a_token_of_a_reader() {
        let gate = Gate { reader: pair("//Alice").public().into() };
        let expiry = now_secs() + 60;
        assert_eq!(authorize(&Default::default(), &gate), Err(TokenError::Missing));
        assert_eq!(authorize(&headers(&make_token(&pair("//Alice"), &gate.genesis(), expiry)), &gate), Ok(()));
        assert!(matches!(
            authorize(&headers(&make_token(&pair("//Bob"), &gate.genesis(), expiry)), &gate),
            Err(TokenError::NoRead(_))
        ));
        assert_eq!(refusal(&TokenError::Missing).status(), 401);
        assert_eq!(refusal(&TokenError::NoRead("x".into())).status(), 403);
    }
}
