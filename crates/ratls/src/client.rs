//! The client's side: a jsonrpsee WebSocket client over RA-TLS.

use crate::{AttestedServerVerifier, EvidenceVerifier, RatlsError};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use std::sync::Arc;

/// Connects a jsonrpsee WebSocket client to an enclave at `url` (`wss://host:port`), accepting
/// the server only if its certificate carries evidence that `verify_evidence` accepts for
/// `pinned_mrenclave` (see [`AttestedServerVerifier`]).
///
/// A refused certificate comes back as [`RatlsError::Refused`] with the reason; other failures
/// (nothing listening, a handshake cut short) as [`RatlsError::Connect`]. Use
/// [`AttestedServerVerifier::client_config`] with [`WsClientBuilder::with_custom_cert_store`]
/// directly for other client settings (timeouts, message sizes).
pub async fn connect(
    url: &str,
    pinned_mrenclave: [u8; 32],
    verify_evidence: EvidenceVerifier,
) -> Result<WsClient, RatlsError> {
    if !url.get(..6).is_some_and(|scheme| scheme.eq_ignore_ascii_case("wss://")) {
        return Err(RatlsError::NotTls(url.to_owned()));
    }
    let verifier = Arc::new(AttestedServerVerifier::new(pinned_mrenclave, verify_evidence));
    let config = verifier.clone().client_config()?;
    match WsClientBuilder::default().with_custom_cert_store(config).build(url).await {
        Ok(client) => Ok(client),
        Err(error) => match verifier.last_rejection() {
            Some(rejection) => Err(RatlsError::Refused(rejection)),
            None => Err(RatlsError::Connect { url: url.to_owned(), reason: error.to_string() }),
        },
    }
}
