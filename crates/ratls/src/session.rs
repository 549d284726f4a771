//! The enclave's end of one client connection, sans-IO: TLS 1.3 (rustls) carrying a WebSocket
//! (tungstenite, RFC 6455) carrying JSON-RPC text messages.
//!
//! ```text
//!  socket bytes ──► feed ──► rustls ServerConnection ──plaintext──► Pipe ──► tungstenite ──► text messages
//!  socket bytes ◄── take_outgoing ◄── rustls ◄──plaintext── Pipe ◄── tungstenite ◄── send_text
//! ```
//!
//! The session does no I/O: the host reads ciphertext from the socket and hands it to
//! [`ServerSession::feed`], and writes what [`ServerSession::take_outgoing`] returns. The
//! [`Pipe`] between rustls and tungstenite is an in-memory `Read + Write` that answers
//! `WouldBlock` when it has nothing, which makes tungstenite's blocking-style state machines
//! (upgrade handshake and frame codec) resumable; no frame parsing is done here.
//!
//! Memory stays bounded whatever the peer sends: ciphertext is processed record by record, the
//! upgrade request is capped by tungstenite (64 KiB), frames and messages by
//! [`SessionLimits::max_message_size`] (checked from the frame header, before the payload
//! arrives), and unsent output by [`SessionLimits::max_outgoing`].

use crate::RatlsError;
use rustls::ServerConnection;
use std::{
    io::{self, Read, Write},
    sync::Arc,
};
use tungstenite::{
    handshake::{
        server::{NoCallback, ServerHandshake},
        HandshakeError, MidHandshake,
    },
    protocol::{frame::coding::CloseCode, CloseFrame, WebSocketConfig},
    Message, WebSocket,
};

/// Answer to an upgrade request that is not a valid WebSocket upgrade.
const BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// How much plaintext is taken from rustls at a time.
const CHUNK: usize = 16 * 1024;

/// The bounds of one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// Largest message (and frame) the peer may send, in bytes; a larger one closes the session
    /// with code 1009. Default 1 MiB: a trusted operation is a few hundred bytes.
    pub max_message_size: usize,
    /// Largest number of bytes [`ServerSession::send_text`] may queue before the host takes them
    /// with [`ServerSession::take_outgoing`]. Default 16 MiB.
    pub max_outgoing: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self { max_message_size: 1 << 20, max_outgoing: 16 << 20 }
    }
}

/// In-memory transport between rustls plaintext and tungstenite.
#[derive(Debug, Default)]
struct Pipe {
    incoming: Vec<u8>,
    read_from: usize,
    outgoing: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = &self.incoming[self.read_from..];
        if available.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.read_from += n;
        if self.read_from == self.incoming.len() {
            self.incoming.clear();
            self.read_from = 0;
        }
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where the WebSocket layer is.
enum Ws {
    /// Waiting for (or answering) the HTTP upgrade request.
    Upgrading(MidHandshake<ServerHandshake<Pipe, NoCallback>>),
    /// Upgraded: frames flow.
    Open(WebSocket<Pipe>),
    /// The upgrade failed; nothing more is read.
    Failed,
}

/// What reading from the WebSocket ended with.
enum ReadEnd {
    /// No complete message left in the buffered bytes.
    NeedMore,
    /// The close handshake finished.
    Closed,
    /// The peer broke a limit or the protocol: answer with this close code, then fail with the error.
    Refuse(CloseCode, RatlsError),
}

/// One client connection as the enclave sees it: TLS terminated here, WebSocket on top. See the
/// module documentation for the data flow.
pub struct ServerSession {
    tls: ServerConnection,
    ws: Ws,
    limits: SessionLimits,
    /// Bytes queued by `send_text` since the last `take_outgoing`.
    unsent: usize,
    closed: bool,
}

impl ServerSession {
    /// A session for one new connection, with [`SessionLimits::default`].
    pub fn new(config: Arc<rustls::ServerConfig>) -> Result<Self, RatlsError> {
        Self::with_limits(config, SessionLimits::default())
    }

    /// A session for one new connection with explicit limits.
    pub fn with_limits(config: Arc<rustls::ServerConfig>, limits: SessionLimits) -> Result<Self, RatlsError> {
        let mut tls = ServerConnection::new(config).map_err(RatlsError::Config)?;
        // Output is bounded by `limits.max_outgoing` instead, so a write into rustls never comes
        // up short and a close_notify never overtakes queued data.
        tls.set_buffer_limit(None);
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(CHUNK)
            .max_message_size(Some(limits.max_message_size))
            .max_frame_size(Some(limits.max_message_size));
        let ws = Ws::Upgrading(ServerHandshake::start(Pipe::default(), NoCallback, Some(ws_config)));
        Ok(Self { tls, ws, limits, unsent: 0, closed: false })
    }

    /// Processes ciphertext read from the socket; returns the text messages it completed, in
    /// order.
    ///
    /// On an error the session is closed: write what [`Self::take_outgoing`] returns (a TLS
    /// alert, or a WebSocket close frame) and drop the connection. Messages completed earlier in
    /// the same call are dropped with it. An empty `ciphertext` does nothing (end of stream is
    /// the host's to handle: it drops the session).
    pub fn feed(&mut self, mut ciphertext: &[u8]) -> Result<Vec<String>, RatlsError> {
        if self.closed {
            return Err(RatlsError::Closed);
        }
        let mut received = Vec::new();
        while !ciphertext.is_empty() && !self.closed {
            if let Err(error) = self.tls.read_tls(&mut ciphertext) {
                self.close_tls();
                return Err(RatlsError::Tls(rustls::Error::General(format!("TLS input refused: {error}"))));
            }
            if let Err(error) = self.tls.process_new_packets() {
                // rustls has queued the alert; no close_notify after a fatal error.
                self.closed = true;
                tracing::debug!(target: "ratls", %error, "TLS session failed");
                return Err(RatlsError::Tls(error));
            }
            self.take_plaintext(&mut received)?;
        }
        self.pipe_to_tls();
        Ok(received)
    }

    /// Queues a text message to the client. Fails with [`RatlsError::NotOpen`] before the
    /// WebSocket upgrade, [`RatlsError::Closed`] after the session ended, and
    /// [`RatlsError::OutgoingFull`] while more than [`SessionLimits::max_outgoing`] bytes wait
    /// for [`Self::take_outgoing`].
    pub fn send_text(&mut self, text: &str) -> Result<(), RatlsError> {
        if self.closed {
            return Err(RatlsError::Closed);
        }
        let Ws::Open(ws) = &mut self.ws else {
            return Err(RatlsError::NotOpen);
        };
        let pending = self.unsent.saturating_add(text.len());
        if pending > self.limits.max_outgoing {
            return Err(RatlsError::OutgoingFull { pending, limit: self.limits.max_outgoing });
        }
        if let Err(error) = ws.send(Message::text(text)) {
            self.close_tls();
            return Err(RatlsError::WebSocket(error.to_string()));
        }
        self.unsent = pending;
        self.pipe_to_tls();
        Ok(())
    }

    /// The ciphertext to write to the socket, in order; empty when there is none.
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        self.pipe_to_tls();
        let mut out = Vec::new();
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        self.unsent = 0;
        out
    }

    /// Whether the session has ended: write the last [`Self::take_outgoing`] bytes, then close
    /// the socket and drop the session.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether the WebSocket upgrade has finished, so [`Self::send_text`] can send.
    pub fn is_open(&self) -> bool {
        !self.closed && matches!(self.ws, Ws::Open(_))
    }

    /// Ends the session from this side: a WebSocket close frame (code 1000) and a TLS
    /// close_notify, both in the next [`Self::take_outgoing`].
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        if let Ws::Open(ws) = &mut self.ws {
            let _ = ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }));
        }
        self.pipe_to_tls();
        self.close_tls();
    }

    /// Moves decrypted bytes from rustls to the WebSocket layer and collects complete messages.
    fn take_plaintext(&mut self, received: &mut Vec<String>) -> Result<(), RatlsError> {
        let mut chunk = vec![0u8; CHUNK];
        loop {
            match self.tls.reader().read(&mut chunk) {
                Ok(0) => {
                    // The peer's close_notify: it sends nothing more.
                    self.close_tls();
                    return Ok(());
                }
                Ok(n) => {
                    if let Some(pipe) = self.pipe() {
                        pipe.incoming.extend_from_slice(&chunk[..n]);
                    }
                    self.drive(received)?;
                    if self.closed {
                        return Ok(());
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) => {
                    self.close_tls();
                    return Err(RatlsError::WebSocket(format!("TLS stream ended: {error}")));
                }
            }
        }
    }

    /// Advances the upgrade, then reads every complete message.
    fn drive(&mut self, received: &mut Vec<String>) -> Result<(), RatlsError> {
        if let Ws::Upgrading(_) = self.ws {
            let Ws::Upgrading(upgrade) = std::mem::replace(&mut self.ws, Ws::Failed) else {
                return Ok(());
            };
            match upgrade.handshake() {
                Ok(ws) => self.ws = Ws::Open(ws),
                Err(HandshakeError::Interrupted(upgrade)) => {
                    self.ws = Ws::Upgrading(upgrade);
                    return Ok(());
                }
                Err(HandshakeError::Failure(error)) => {
                    let _ = self.tls.writer().write_all(BAD_REQUEST);
                    self.close_tls();
                    return Err(RatlsError::WebSocket(format!("bad upgrade request: {error}")));
                }
            }
        }
        match self.read_messages(received) {
            ReadEnd::NeedMore => Ok(()),
            ReadEnd::Closed => {
                self.pipe_to_tls();
                self.close_tls();
                Ok(())
            }
            ReadEnd::Refuse(code, error) => {
                tracing::debug!(target: "ratls", %error, "closing session");
                if let Ws::Open(ws) = &mut self.ws {
                    let _ = ws.close(Some(CloseFrame { code, reason: "".into() }));
                }
                self.pipe_to_tls();
                self.close_tls();
                Err(error)
            }
        }
    }

    fn read_messages(&mut self, received: &mut Vec<String>) -> ReadEnd {
        let Ws::Open(ws) = &mut self.ws else {
            return ReadEnd::NeedMore;
        };
        loop {
            match ws.read() {
                Ok(Message::Text(text)) => received.push(text.as_str().to_owned()),
                Ok(Message::Binary(_)) => {
                    let error = RatlsError::WebSocket("binary messages are not supported".into());
                    return ReadEnd::Refuse(CloseCode::Unsupported, error);
                }
                // tungstenite queues the pong, and the reply to a close, itself.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_)) => {}
                Err(tungstenite::Error::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => {
                    return ReadEnd::NeedMore
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return ReadEnd::Closed
                }
                Err(tungstenite::Error::Capacity(_)) => {
                    let error = RatlsError::MessageTooLarge { limit: self.limits.max_message_size };
                    return ReadEnd::Refuse(CloseCode::Size, error);
                }
                Err(error) => return ReadEnd::Refuse(CloseCode::Protocol, RatlsError::WebSocket(error.to_string())),
            }
        }
    }

    fn pipe(&mut self) -> Option<&mut Pipe> {
        match &mut self.ws {
            Ws::Upgrading(upgrade) => Some(upgrade.get_mut().get_mut()),
            Ws::Open(ws) => Some(ws.get_mut()),
            Ws::Failed => None,
        }
    }

    /// Encrypts what the WebSocket layer wrote (rustls' buffer is unbounded, see `with_limits`).
    fn pipe_to_tls(&mut self) {
        if let Ws::Open(ws) = &mut self.ws {
            // Pending pongs and close replies.
            let _ = ws.flush();
        }
        let Some(pipe) = self.pipe() else { return };
        let bytes = std::mem::take(&mut pipe.outgoing);
        if !bytes.is_empty() {
            let _ = self.tls.writer().write_all(&bytes);
        }
    }

    /// Ends TLS with a close_notify and marks the session closed.
    fn close_tls(&mut self) {
        if !self.closed {
            self.tls.send_close_notify();
            self.closed = true;
        }
    }
}

impl std::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("open", &self.is_open())
            .field("closed", &self.closed)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
