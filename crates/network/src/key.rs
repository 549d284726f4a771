//! The node's peer identity: an ed25519 key, separate from any authority key, kept in a file.
//!
//! The file holds the 32-byte secret as 64 hex characters (Substrate's `--node-key-file` format;
//! a file of exactly 32 raw bytes is accepted too). A node without a key file gets one generated
//! under its base path on first start, written with mode 0600.

use libp2p::{identity::Keypair, PeerId};
use std::path::{Path, PathBuf};

/// Errors reading or writing a node key.
#[derive(Debug, thiserror::Error)]
pub enum NodeKeyError {
    /// The file cannot be read or written.
    #[error("node key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not hold a 32-byte ed25519 secret.
    #[error("node key file {path} does not hold an ed25519 secret (64 hex characters): {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A node key given as a 32-byte ed25519 secret.
pub fn keypair_from_secret(mut secret: [u8; 32]) -> Result<Keypair, String> {
    Keypair::ed25519_from_bytes(&mut secret).map_err(|e| e.to_string())
}

/// Reads the node key in `path`.
pub fn read_node_key(path: &Path) -> Result<Keypair, NodeKeyError> {
    let bytes = std::fs::read(path).map_err(|source| NodeKeyError::Io { path: path.into(), source })?;
    let invalid = |reason: String| NodeKeyError::Invalid { path: path.into(), reason };
    let secret: [u8; 32] = if bytes.len() == 32 {
        bytes.as_slice().try_into().map_err(|_| invalid("wrong length".into()))?
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid("not text".into()))?.trim();
        let text = text.strip_prefix("0x").unwrap_or(text);
        let decoded = hex::decode(text).map_err(|e| invalid(e.to_string()))?;
        decoded.as_slice().try_into().map_err(|_| invalid(format!("{} bytes instead of 32", decoded.len())))?
    };
    keypair_from_secret(secret).map_err(invalid)
}

/// Generates a node key, writes it to `path` (mode 0600, refusing to overwrite) and returns it.
pub fn generate_node_key(path: &Path) -> Result<Keypair, NodeKeyError> {
    let io = |source| NodeKeyError::Io { path: path.into(), source };
    let keypair = Keypair::generate_ed25519();
    let secret = secret_hex(&keypair)
        .ok_or_else(|| NodeKeyError::Invalid { path: path.into(), reason: "generated key is not ed25519".into() })?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    std::io::Write::write_all(&mut file, secret.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(keypair)
}

/// Reads the node key in `path`, generating it first if the file does not exist.
pub fn load_or_generate_node_key(path: &Path) -> Result<Keypair, NodeKeyError> {
    if path.exists() {
        read_node_key(path)
    } else {
        generate_node_key(path)
    }
}

/// The hex secret of an ed25519 key pair.
pub fn secret_hex(keypair: &Keypair) -> Option<String> {
    let ed = keypair.clone().try_into_ed25519().ok()?;
    Some(hex::encode(ed.secret().as_ref()))
}

/// The peer id of a key pair.
pub fn peer_id(keypair: &Keypair) -> PeerId {
    keypair.public().to_peer_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_reads_back_with_same_peer_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p2p/secret_ed25519");
        let generated = generate_node_key(&path).expect("generate");
        let read = read_node_key(&path).expect("read");
        assert_eq!(peer_id(&generated), peer_id(&read));
        assert!(matches!(generate_node_key(&path), Err(NodeKeyError::Io { .. })), "never overwrites");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn malformed_key_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        std::fs::write(&path, "zz").expect("write");
        assert!(matches!(read_node_key(&path), Err(NodeKeyError::Invalid { .. })));
        std::fs::write(&path, "00".repeat(31)).expect("write");
        assert!(matches!(read_node_key(&path), Err(NodeKeyError::Invalid { .. })));
        std::fs::write(&path, [7u8; 32]).expect("write");
        assert!(read_node_key(&path).is_ok());
    }
}
