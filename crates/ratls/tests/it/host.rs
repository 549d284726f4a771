//! A host loop as the worker will run it, in miniature: TCP on 127.0.0.1, one `ServerSession`
//! per connection, ciphertext in and out; the "enclave" answers JSON-RPC with an echo method and
//! a subscription that pushes three notifications.

use cloister_ratls::{ServerSession, SessionLimits};
use serde_json::{json, Value};
use std::{net::SocketAddr, sync::Arc};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};

/// How one connection ended, seen from the host.
#[derive(Debug)]
pub struct Ended {
    /// The session error that ended it, if one did.
    pub error: Option<cloister_ratls::RatlsError>,
    /// Whether the session said it was closed.
    pub closed: bool,
    /// Text messages it received.
    pub received: usize,
}

/// A running test server.
pub struct Host {
    /// `wss://127.0.0.1:PORT`.
    pub url: String,
    /// One report per finished connection.
    pub ended: mpsc::UnboundedReceiver<Ended>,
}

impl Host {
    /// Serves `config` on a free port until the test ends.
    pub async fn start(config: Arc<rustls::ServerConfig>, limits: SessionLimits) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let (report, ended) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let session = ServerSession::with_limits(config.clone(), limits).expect("session");
                let report = report.clone();
                tokio::spawn(async move {
                    let _ = report.send(serve(socket, session).await);
                });
            }
        });
        Self { url: format!("wss://{addr}"), ended }
    }

    /// The next connection's report.
    pub async fn next_ended(&mut self) -> Ended {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.ended.recv())
            .await
            .expect("a connection ends in time")
            .expect("host runs")
    }
}

async fn serve(mut socket: TcpStream, mut session: ServerSession) -> Ended {
    let mut buf = vec![0u8; 16 * 1024];
    let mut received = 0;
    let mut error = None;
    loop {
        let n = match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match session.feed(&buf[..n]) {
            Ok(messages) => {
                received += messages.len();
                for message in messages {
                    answer(&mut session, &message);
                }
            }
            Err(e) => error = Some(e),
        }
        let out = session.take_outgoing();
        if !out.is_empty() && socket.write_all(&out).await.is_err() {
            break;
        }
        if session.is_closed() {
            break;
        }
    }
    let _ = socket.shutdown().await;
    Ended { error, closed: session.is_closed(), received }
}

/// The "enclave": `echo(x) -> x`, `subscribe_ticks() -> id` then notifications 1, 2, 3.
fn answer(session: &mut ServerSession, message: &str) {
    let Ok(request) = serde_json::from_str::<Value>(message) else {
        let _ = session.send_text(
            &json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}}).to_string(),
        );
        return;
    };
    let id = request["id"].clone();
    let reply = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string();
    match request["method"].as_str() {
        Some("echo") => {
            let _ = session.send_text(&reply(request["params"][0].clone()));
        }
        Some("subscribe_ticks") => {
            let _ = session.send_text(&reply(json!("tick-sub")));
            for tick in 1..=3 {
                let notification = json!({
                    "jsonrpc": "2.0",
                    "method": "ticks",
                    "params": {"subscription": "tick-sub", "result": tick},
                });
                let _ = session.send_text(&notification.to_string());
            }
        }
        Some("unsubscribe_ticks") => {
            let _ = session.send_text(&reply(json!(true)));
        }
        _ => {
            let _ = session.send_text(
                &json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}})
                    .to_string(),
            );
        }
    }
}
