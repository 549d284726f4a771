//! The host's half of MU-RA (ARCHITECTURE.md 6.10): TCP connections whose bytes (TLS records)
//! go to the enclave and back, on both sides. The host never sees the secrets; it only learns
//! whether the joiner was provisioned.
//!
//! ```text
//!   joiner host: TCP connect(peer's MU-RA address) ◄──► MuRaConnect / MuRaClientData
//!   provider host: MU-RA port, accept ◄──► MuRaAccept / MuRaData / MuRaClose
//! ```

use cloister_enclave::{boundary::EnclaveClient, mura::MuRaProgress, software::SoftwareEnclave};
use cloister_primitives::ShardId;
use std::{sync::Arc, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// How long a provisioning may take (a large state).
const PROVISION_TIMEOUT: Duration = Duration::from_secs(600);

/// Serves the MU-RA port until the task is dropped.
pub async fn serve(listener: TcpListener, enclave: Arc<EnclaveClient<SoftwareEnclave>>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(target: "mu-ra", %error, "accept failed");
                continue;
            }
        };
        let enclave = enclave.clone();
        tokio::spawn(async move {
            let conn = match enclave.mu_ra_accept() {
                Ok(conn) => conn,
                Err(error) => {
                    tracing::warn!(target: "mu-ra", %peer, %error, "MU-RA connection refused by the enclave");
                    return;
                }
            };
            if let Err(error) = serve_connection(stream, &enclave, conn).await {
                tracing::debug!(target: "mu-ra", %peer, %error, "MU-RA connection ended");
            }
            let _ = enclave.mu_ra_close(conn);
        });
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    enclave: &EnclaveClient<SoftwareEnclave>,
    conn: u64,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let (out, closed) = tokio::task::block_in_place(|| enclave.mu_ra_data(conn, buf[..n].to_vec()))
            .map_err(std::io::Error::other)?;
        if !out.is_empty() {
            stream.write_all(&out).await?;
        }
        if closed {
            stream.flush().await?;
            return Ok(());
        }
    }
}

/// Asks the validateer at `address` (`host:port` of its MU-RA port) for `shard`'s keys and
/// state; returns the parentchain block the enclave's light client starts again from.
pub async fn provision(
    enclave: &EnclaveClient<SoftwareEnclave>,
    shard: ShardId,
    address: &str,
) -> Result<(cloister_enclave::engine::ShardInfo, (cloister_primitives::BlockNumber, cloister_primitives::Hash)), String>
{
    let run = async {
        let mut stream = TcpStream::connect(address).await.map_err(|e| format!("{address}: {e}"))?;
        let (conn, first) = enclave.mu_ra_connect(shard).map_err(|e| e.to_string())?;
        let result = async {
            stream.write_all(&first).await.map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
                let (out, progress) =
                    tokio::task::block_in_place(|| enclave.mu_ra_client_data(conn, buf[..n].to_vec()))
                        .map_err(|e| e.to_string())?;
                if !out.is_empty() {
                    stream.write_all(&out).await.map_err(|e| e.to_string())?;
                }
                match progress {
                    MuRaProgress::Provisioned { info, parentchain } => return Ok((info, parentchain)),
                    MuRaProgress::Failed(reason) => return Err(reason),
                    MuRaProgress::Pending if n == 0 => return Err("the provider closed the connection".into()),
                    MuRaProgress::Pending => {}
                }
            }
        }
        .await;
        let _ = enclave.mu_ra_close(conn);
        result
    };
    tokio::time::timeout(PROVISION_TIMEOUT, run).await.map_err(|_| "timed out".to_string())?
}
