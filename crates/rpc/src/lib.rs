//! JSON-RPC servers of Cloister.
//!
//! [`node`] is the parentchain node's API: Substrate's method names, parameters and result
//! shapes (`system_*`, `chain_*`, `state_*`, `author_*`, `payment_*`, `grandpa_*`,
//! `rpc_methods`), so that unmodified wallets and SDKs (`@polkadot/api`, `subxt`) work against
//! it. The node implements [`node::NodeBackend`]; this crate turns requests into calls of that
//! trait and shapes the answers. HTTP and WebSocket share one port ([`serve`]). On a restricted
//! chain, [`auth`] lets through only requests with a token of an account that may read.

pub mod auth;
pub mod node;

use jsonrpsee::server::{RpcModule, Server, ServerConfig, ServerHandle};
use std::net::SocketAddr;

/// Errors starting a server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be bound.
    #[error("cannot listen for RPC on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Serves `module` over HTTP and WebSocket on `addr`; returns the bound address and a handle
/// that stops the server when dropped or stopped.
///
/// With a `gate`, requests pass only as [`auth::AuthLayer`] allows.
pub async fn serve<C: Send + Sync + 'static>(
    addr: SocketAddr,
    module: RpcModule<C>,
    max_connections: u32,
    gate: Option<std::sync::Arc<dyn auth::Gatekeeper>>,
) -> Result<(SocketAddr, ServerHandle), ServeError> {
    let config = ServerConfig::builder()
        .max_connections(max_connections)
        .max_request_body_size(16 * 1024 * 1024)
        .max_response_body_size(64 * 1024 * 1024)
        .build();
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(tower::ServiceBuilder::new().layer(auth::AuthLayer::new(gate)))
        .build(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = server.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
    Ok((bound, server.start(module)))
}
