//! The host's half of direct invocation: TCP connections on the trusted port whose bytes (TLS
//! ciphertext) go to the enclave and back. The host never sees a request or an answer in clear.

use cloister_enclave::boundary::{Ecalls, EnclaveClient};
use parking_lot::Mutex;
use std::{collections::HashMap, sync::Arc};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::mpsc,
};

/// Writers of the open connections, by the enclave's connection id.
#[derive(Clone, Default)]
pub struct Connections(Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Vec<u8>>>>>);

impl Connections {
    /// Sends what the enclave has for each connection (status updates after a block).
    pub fn flush<E: Ecalls>(&self, enclave: &EnclaveClient<E>) {
        match enclave.tls_flush() {
            Ok(outputs) => {
                let conns = self.0.lock();
                for (conn, bytes) in outputs {
                    if let Some(writer) = conns.get(&conn) {
                        let _ = writer.send(bytes);
                    }
                }
            }
            Err(error) => tracing::warn!(target: "direct", %error, "flushing connections"),
        }
    }
}

/// Accepts connections on `listener` until the task is dropped.
pub async fn serve<E: Ecalls + 'static>(listener: TcpListener, enclave: Arc<EnclaveClient<E>>, conns: Connections) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(target: "direct", %error, "accept failed");
                continue;
            }
        };
        let conn = match enclave.tls_accept() {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(target: "direct", %peer, %error, "connection refused by the enclave");
                continue;
            }
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        conns.0.lock().insert(conn, tx.clone());
        let (mut reader, mut writer) = stream.into_split();
        let enclave = enclave.clone();
        let conns = conns.clone();
        tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if bytes.is_empty() || writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            let _ = writer.shutdown().await;
        });
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                match enclave.tls_data(conn, buf[..n].to_vec()) {
                    Ok((out, closed)) => {
                        if !out.is_empty() {
                            let _ = tx.send(out);
                        }
                        if closed {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::debug!(target: "direct", conn, %error, "connection ended");
                        break;
                    }
                }
            }
            let _ = enclave.tls_close(conn);
            conns.0.lock().remove(&conn);
            // An empty write ends the writer task.
            let _ = tx.send(Vec::new());
        });
    }
}
