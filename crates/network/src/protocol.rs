//! The sync protocol: what peers ask each other for and how it travels on a stream.
//!
//! Messages are SCALE-encoded and framed with a 4-byte little-endian length. Blocks travel as
//! opaque SCALE bytes (a signed block with its justifications); the node decodes and checks
//! them, the network only carries them.

use cloister_primitives::{BlockNumber, Hash};
use codec::{Decode, Encode};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::io;

/// Most blocks in one [`SyncResponse::Blocks`].
pub const MAX_BLOCKS_PER_RESPONSE: u32 = 128;
/// Largest request accepted from a peer.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024;
/// Largest response accepted from a peer.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// A peer's view of the chain.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq)]
pub struct PeerStatus {
    /// Genesis hash: peers of other chains are dropped.
    pub genesis: Hash,
    /// Best block number.
    pub best_number: BlockNumber,
    /// Best block hash.
    pub best_hash: Hash,
    /// Finalized block number.
    pub finalized_number: BlockNumber,
    /// Finalized block hash.
    pub finalized_hash: Hash,
}

/// A request to a peer.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub enum SyncRequest {
    /// The peer's [`PeerStatus`].
    Status,
    /// Up to `max` blocks of the peer's best chain from number `from` upwards.
    Blocks {
        /// First block number.
        from: BlockNumber,
        /// Most blocks wanted (capped at [`MAX_BLOCKS_PER_RESPONSE`]).
        max: u32,
    },
    /// One block by hash (on any fork the peer knows).
    Block {
        /// The block's hash.
        hash: Hash,
    },
    /// Addresses of the peer's peers, to find more of the network.
    Peers,
    /// The votes of the peer's last completed GRANDPA round of authority set `set_id`, so that
    /// a voter that fell behind can jump to the network's round (GRANDPA catch-up).
    GrandpaCatchUp {
        /// The authority set the requester votes in.
        set_id: u64,
    },
}

/// A peer's answer.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub enum SyncResponse {
    /// The peer's status.
    Status(PeerStatus),
    /// Encoded signed blocks, in ascending order.
    Blocks(Vec<Vec<u8>>),
    /// Peer addresses, each ending in `/p2p/<peer id>`.
    Peers(Vec<String>),
    /// An encoded GRANDPA catch-up (the node decodes and checks it).
    GrandpaCatchUp(Vec<u8>),
    /// The peer cannot answer.
    Refused(String),
}

/// Protocol name of sync for a chain.
pub fn sync_protocol(chain_id: &str) -> libp2p::StreamProtocol {
    libp2p::StreamProtocol::try_from_owned(format!("/cloister/{}/sync/1", sanitize(chain_id)))
        .unwrap_or(libp2p::StreamProtocol::new("/cloister/sync/1"))
}

/// A chain id made safe for protocol names and topics.
pub fn sanitize(chain_id: &str) -> String {
    chain_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// SCALE with a length prefix on libp2p streams.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScaleCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, limit: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("message of {len} bytes exceeds {limit}")));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too large"))?;
    io.write_all(&len.to_le_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

fn decode<M: Decode>(bytes: &[u8]) -> io::Result<M> {
    M::decode(&mut &bytes[..]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

impl libp2p::request_response::Codec for ScaleCodec {
    type Protocol = libp2p::StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
    ) -> io::Result<SyncRequest> {
        decode(&read_frame(io, MAX_REQUEST_BYTES).await?)
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
    ) -> io::Result<SyncResponse> {
        decode(&read_frame(io, MAX_RESPONSE_BYTES).await?)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        request: SyncRequest,
    ) -> io::Result<()> {
        write_frame(io, &request.encode()).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        response: SyncResponse,
    ) -> io::Result<()> {
        write_frame(io, &response.encode()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::request_response::Codec;

    #[test]
    fn frames_round_trip_and_limits_hold() {
        futures::executor::block_on(async {
            let mut codec = ScaleCodec;
            let protocol = sync_protocol("home-chain");
            assert_eq!(protocol.as_ref(), "/cloister/home-chain/sync/1");
            let mut buf = Vec::new();
            let request = SyncRequest::Blocks { from: 7, max: 64 };
            codec
                .write_request(&protocol, &mut futures::io::Cursor::new(&mut buf), request.clone())
                .await
                .expect("write");
            let read = codec.read_request(&protocol, &mut futures::io::Cursor::new(&buf)).await.expect("read");
            assert_eq!(read, request);

            let mut huge = (MAX_REQUEST_BYTES as u32 + 1).to_le_bytes().to_vec();
            huge.extend(vec![0; 16]);
            let err = codec.read_request(&protocol, &mut futures::io::Cursor::new(&huge)).await.expect_err("too big");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);

            let garbage = [3u8, 0, 0, 0, 9, 9, 9];
            assert!(codec.read_request(&protocol, &mut futures::io::Cursor::new(&garbage[..])).await.is_err());
        });
    }
}
