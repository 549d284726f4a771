//! The host's half of direct invocation: TCP connections on the trusted port whose bytes (TLS
//! ciphertext) go to the enclave and back. The host never sees a request or an answer in clear.
//!
//! A connection's output comes from two threads (its reader, with the answers, and the slot
//! loop, with status updates); its writer puts the pieces back in the enclave's order
//! ([`TlsOutput::seq`]) before writing them.

use cloister_enclave::boundary::{Ecalls, EnclaveClient, TlsOutput};
use parking_lot::Mutex;
use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::mpsc,
};

/// Writers of the open connections, by the enclave's connection id.
#[derive(Clone, Default)]
pub struct Connections(Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Option<TlsOutput>>>>>);

impl Connections {
    /// Sends what the enclave has for each connection (status updates after a block).
    pub fn flush<E: Ecalls>(&self, enclave: &EnclaveClient<E>) {
        match enclave.tls_flush() {
            Ok(outputs) => {
                let conns = self.0.lock();
                for (conn, output) in outputs {
                    if let Some(writer) = conns.get(&conn) {
                        let _ = writer.send(Some(output));
                    }
                }
            }
            Err(error) => tracing::warn!(target: "direct", %error, "flushing connections"),
        }
    }
}

/// Puts a connection's outputs back in the enclave's order.
#[derive(Default)]
pub struct InOrder {
    next: u64,
    early: BTreeMap<u64, Vec<u8>>,
}

impl InOrder {
    /// Takes `output`; returns what can now be written, in order.
    pub fn push(&mut self, output: TlsOutput) -> Vec<Vec<u8>> {
        if output.bytes.is_empty() || output.seq < self.next {
            return Vec::new();
        }
        self.early.insert(output.seq, output.bytes);
        let mut ready = Vec::new();
        while let Some(bytes) = self.early.remove(&self.next) {
            ready.push(bytes);
            self.next += 1;
        }
        ready
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
        // `None` ends the writer.
        let (tx, mut rx) = mpsc::unbounded_channel::<Option<TlsOutput>>();
        conns.0.lock().insert(conn, tx.clone());
        let (mut reader, mut writer) = stream.into_split();
        let enclave = enclave.clone();
        let conns = conns.clone();
        tokio::spawn(async move {
            let mut order = InOrder::default();
            'writing: while let Some(Some(output)) = rx.recv().await {
                for bytes in order.push(output) {
                    if writer.write_all(&bytes).await.is_err() {
                        break 'writing;
                    }
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
                        if !out.bytes.is_empty() {
                            let _ = tx.send(Some(out));
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
            let _ = tx.send(None);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(seq: u64, bytes: &[u8]) -> TlsOutput {
        TlsOutput { seq, bytes: bytes.to_vec() }
    }

    #[test]
    fn outputs_taken_by_two_threads_are_written_in_the_enclaves_order() {
        let mut order = InOrder::default();
        assert_eq!(order.push(out(1, b"b")), Vec::<Vec<u8>>::new(), "1 waits for 0");
        assert_eq!(order.push(out(2, b"c")), Vec::<Vec<u8>>::new());
        assert_eq!(order.push(out(0, b"a")), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(order.push(TlsOutput::default()), Vec::<Vec<u8>>::new(), "nothing to send");
        assert_eq!(order.push(out(1, b"again")), Vec::<Vec<u8>>::new(), "an old piece is not written twice");
        assert_eq!(order.push(out(3, b"d")), vec![b"d".to_vec()]);
    }
}
