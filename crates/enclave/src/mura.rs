//! Mutual remote attestation (MU-RA, ARCHITECTURE.md 6.10): how a validateer joining a shard
//! receives the shard's secrets from one that runs it.
//!
//! ```text
//!   joiner enclave (TLS client)                 hosts move bytes          provider enclave (TLS server)
//!   MuRaConnect(shard) ── ClientHello ──────────────────────────────────► MuRaAccept, MuRaData
//!        both present an RA-TLS certificate made inside their enclave; its evidence is an
//!        attestation binding the TLS key and the enclave's signing key. Each side checks that the
//!        other runs the same MRENCLAVE and that its signing key is a validateer of the shard on
//!        the parentchain (as its own light client verified it), before anything is sent.
//!   Request { shard } ─────────────────────────────────────────────────► checked again
//!   ◄──────────────────────────── Provision { shielding key, state key, head, state snapshot }
//!   seal everything, replace the shard, start the light client again from the new state
//! ```
//!
//! A worker with another MRENCLAVE, one that is not a validateer of the shard, or one whose
//! certificate's evidence does not hold (a tampered certificate) gets nothing: the handshake
//! fails, or the request is answered with a refusal. Secrets exist in clear only inside the two
//! enclaves; the hosts see TLS records.

use crate::{
    boundary::EnclaveError,
    engine::{Engine, ShardInfo},
};
use cloister_attestation::{Attestation, Policy};
use cloister_primitives::{sidechain::SidechainHeader, BlockNumber, Hash, Mrenclave, ShardId};
use cloister_ratls::{MutualSession, PeerVerifier, ServerIdentity};
use codec::{Decode, Encode};
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};
use zeroize::Zeroizing;

/// Domain of the report data that binds a MU-RA certificate's key and the enclave's signing key.
const MU_RA_CONTEXT: &[u8] = b"cloister/mu-ra/v1";
/// Largest message: a state snapshot.
pub const MAX_MESSAGE: usize = 1 << 30;
/// Most MU-RA connections at once.
const MAX_CONNECTIONS: usize = 64;
/// How long a dev attestation in a MU-RA certificate stays acceptable.
const MAX_DEV_REPORT_AGE_MS: u64 = 24 * 3600 * 1000;

/// What a MU-RA certificate carries.
#[derive(Clone, Debug, Encode, Decode)]
pub struct MuRaEvidence {
    /// The attestation; its report data is [`mu_ra_report_data`].
    pub attestation: Attestation,
    /// The enclave's signing key (its parentchain account).
    pub signing_key: [u8; 32],
}

/// The report data of a MU-RA certificate for TLS key `binding` and `signing_key`.
pub fn mu_ra_report_data(binding: &[u8; 32], signing_key: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&sp_crypto_hashing::blake2_256(&[MU_RA_CONTEXT, binding, signing_key].concat()));
    out
}

/// Who is at the other end, as its certificate attests.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Peer {
    /// Its measurement.
    pub mrenclave: Mrenclave,
    /// Its signing key.
    pub signing_key: [u8; 32],
}

/// What the joiner asks for.
#[derive(Clone, Debug, Encode, Decode)]
enum Request {
    Provision { shard: ShardId },
}

/// The shard's secrets and latest state.
#[derive(Encode, Decode)]
struct Provision {
    shielding_key: Vec<u8>,
    state_key: [u8; 32],
    head: Option<SidechainHeader>,
    snapshot: Vec<u8>,
}

impl Drop for Provision {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.shielding_key.zeroize();
        self.state_key.zeroize();
        self.snapshot.zeroize();
    }
}

#[derive(Encode, Decode)]
enum Answer {
    Provision(Provision),
    Refused(String),
}

/// How a joiner's MU-RA session stands.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum MuRaProgress {
    /// Still talking.
    Pending,
    /// The shard is provisioned; the light client starts again from this parentchain block.
    Provisioned {
        /// The shard as it is now.
        info: ShardInfo,
        /// The last parentchain block the light client has verified.
        parentchain: (BlockNumber, Hash),
    },
    /// The session ended without the secrets.
    Failed(String),
}

/// The MU-RA sessions of this enclave, both sides.
pub struct MuRa {
    identity: ServerIdentity,
    server: Mutex<HashMap<u64, Arc<Mutex<MutualSession>>>>,
    clients: Mutex<HashMap<u64, (ShardId, Arc<Mutex<MutualSession>>)>>,
    next: AtomicU64,
}

fn internal(e: impl std::fmt::Display) -> EnclaveError {
    EnclaveError::Internal(e.to_string())
}

/// The checks of a peer's certificate evidence: an attestation the chain's policy accepts,
/// bound to the certificate's key and the signing key it names.
fn verifier(engine: &Engine) -> PeerVerifier {
    let allow_dev = engine.parentchain.lock().allow_dev();
    let now_ms = engine.now_ms();
    Arc::new(move |evidence: &[u8], binding: &[u8; 32]| {
        let evidence = MuRaEvidence::decode(&mut &evidence[..])
            .map_err(|_| "the evidence is not a MU-RA attestation".to_string())?;
        let policy = Policy { allow_dev, now_ms, max_dev_report_age_ms: MAX_DEV_REPORT_AGE_MS };
        let report = cloister_attestation::verify(&evidence.attestation, &policy).map_err(|e| e.to_string())?;
        if report.report_data != mu_ra_report_data(binding, &evidence.signing_key) {
            return Err("the attestation is not bound to this certificate's key and signing key".into());
        }
        Ok(Peer { mrenclave: report.mrenclave, signing_key: evidence.signing_key }.encode())
    })
}

impl MuRa {
    /// Makes this enclave's MU-RA identity: a TLS key and a certificate whose evidence binds it
    /// and the enclave's signing key.
    pub fn new(engine: &Engine) -> Result<Self, EnclaveError> {
        let signing_key = engine.keys().signing_public();
        let identity = cloister_ratls::generate_identity(|binding| {
            let data = mu_ra_report_data(binding, &signing_key);
            MuRaEvidence { attestation: engine.attest(data), signing_key }.encode()
        })
        .map_err(internal)?;
        Ok(Self {
            identity,
            server: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        })
    }

    fn id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// A peer's connection to this enclave's MU-RA server.
    pub fn accept(&self, engine: &Engine) -> Result<u64, EnclaveError> {
        let mut server = self.server.lock();
        if server.len() >= MAX_CONNECTIONS {
            return Err(EnclaveError::Rejected("too many MU-RA connections".into()));
        }
        let config = self.identity.mutual_server_config(verifier(engine)).map_err(internal)?;
        let session = MutualSession::server(config, 4096).map_err(internal)?;
        let id = self.id();
        server.insert(id, Arc::new(Mutex::new(session)));
        Ok(id)
    }

    /// Ciphertext from a peer's connection; returns what to write and whether it is closed.
    pub fn server_data(&self, engine: &Engine, conn: u64, bytes: &[u8]) -> Result<(Vec<u8>, bool), EnclaveError> {
        let session = self
            .server
            .lock()
            .get(&conn)
            .cloned()
            .ok_or_else(|| EnclaveError::Rejected("unknown MU-RA connection".into()))?;
        let mut session = session.lock();
        match session.feed(bytes) {
            Ok(messages) => {
                for message in messages {
                    let answer = self.answer(engine, session.peer_identity(), &message);
                    if let Answer::Refused(reason) = &answer {
                        tracing::warn!(target: "mu-ra", %reason, "a MU-RA request was refused");
                    }
                    let bytes = Zeroizing::new(answer.encode());
                    if session.send(&bytes).is_err() {
                        session.close();
                    }
                    // One request per connection.
                    session.close();
                }
            }
            Err(error) => {
                tracing::warn!(target: "mu-ra", conn, %error, "MU-RA connection refused");
            }
        }
        let out = session.take_outgoing();
        let closed = session.is_closed();
        drop(session);
        if closed {
            self.server.lock().remove(&conn);
        }
        Ok((out, closed))
    }

    /// Forgets a connection the host closed.
    pub fn close(&self, conn: u64) {
        self.server.lock().remove(&conn);
        self.clients.lock().remove(&conn);
    }

    fn answer(&self, engine: &Engine, peer: Option<Vec<u8>>, message: &[u8]) -> Answer {
        let Some(peer) = peer.and_then(|bytes| Peer::decode(&mut &bytes[..]).ok()) else {
            return Answer::Refused("the peer is not attested".into());
        };
        let Ok(Request::Provision { shard }) = Request::decode(&mut &message[..]) else {
            return Answer::Refused("malformed request".into());
        };
        if let Err(reason) = engine.check_peer(&shard, &peer) {
            return Answer::Refused(reason);
        }
        match engine.provision_for_peer(&shard) {
            Ok(provision) => {
                tracing::info!(
                    target: "mu-ra",
                    peer = %hex::encode(peer.signing_key),
                    head = provision.head.as_ref().map(|h| h.number).unwrap_or(0),
                    "provisioned a validateer joining the shard"
                );
                Answer::Provision(provision)
            }
            Err(error) => Answer::Refused(error.to_string()),
        }
    }

    /// Starts this enclave's request for `shard`'s secrets; returns the connection and the
    /// bytes to send.
    pub fn connect(&self, engine: &Engine, shard: ShardId) -> Result<(u64, Vec<u8>), EnclaveError> {
        let info = engine.shard_info(&shard)?;
        if info.provisioned {
            return Err(EnclaveError::Rejected("this enclave already holds the shard's keys".into()));
        }
        let config = self.identity.mutual_client_config(verifier(engine)).map_err(internal)?;
        let mut session = MutualSession::client(config, MAX_MESSAGE).map_err(internal)?;
        session.send(&Request::Provision { shard }.encode()).map_err(internal)?;
        let out = session.take_outgoing();
        let id = self.id();
        self.clients.lock().insert(id, (shard, Arc::new(Mutex::new(session))));
        Ok((id, out))
    }

    /// Ciphertext from the provider; returns what to write and how the session stands.
    pub fn client_data(
        &self,
        engine: &Engine,
        conn: u64,
        bytes: &[u8],
    ) -> Result<(Vec<u8>, MuRaProgress), EnclaveError> {
        let (shard, session) = self
            .clients
            .lock()
            .get(&conn)
            .cloned()
            .ok_or_else(|| EnclaveError::Rejected("unknown MU-RA connection".into()))?;
        let mut session = session.lock();
        let progress = match session.feed(bytes) {
            Err(error) => MuRaProgress::Failed(error.to_string()),
            Ok(messages) => {
                let peer = session.peer_identity().and_then(|bytes| Peer::decode(&mut &bytes[..]).ok());
                match (peer, messages.into_iter().next()) {
                    (None, Some(_)) => MuRaProgress::Failed("the provider is not attested".into()),
                    (Some(peer), message) => match engine.check_peer(&shard, &peer) {
                        Err(reason) => {
                            session.close();
                            MuRaProgress::Failed(format!("the provider was refused: {reason}"))
                        }
                        Ok(()) => match message.map(|m| Answer::decode(&mut &m[..])) {
                            None => MuRaProgress::Pending,
                            Some(Ok(Answer::Provision(provision))) => {
                                let installed = engine.install_provision(&shard, provision);
                                session.close();
                                match installed {
                                    Ok((info, parentchain)) => MuRaProgress::Provisioned { info, parentchain },
                                    Err(error) => MuRaProgress::Failed(error.to_string()),
                                }
                            }
                            Some(Ok(Answer::Refused(reason))) => {
                                MuRaProgress::Failed(format!("the provider refused: {reason}"))
                            }
                            Some(Err(_)) => MuRaProgress::Failed("malformed answer".into()),
                        },
                    },
                    (None, None) if session.is_closed() => MuRaProgress::Failed("the connection closed".into()),
                    (None, None) => MuRaProgress::Pending,
                }
            }
        };
        let out = session.take_outgoing();
        drop(session);
        if !matches!(progress, MuRaProgress::Pending) {
            self.clients.lock().remove(&conn);
        }
        Ok((out, progress))
    }
}

impl Engine {
    /// The attestation of `report_data` by this enclave (a dev report on the software backend).
    pub(crate) fn attest(&self, report_data: [u8; 64]) -> Attestation {
        crate::attest::dev_attestation(&self.sealer, self.mrenclave(), report_data, self.now_ms())
    }

    /// Whether `peer` may take part in MU-RA for `shard`: the same MRENCLAVE, another enclave,
    /// and a validateer of the shard in the last finalized parentchain block this enclave
    /// verified.
    pub(crate) fn check_peer(&self, shard: &ShardId, peer: &Peer) -> Result<(), String> {
        if peer.mrenclave != self.mrenclave() {
            return Err(format!("it runs MRENCLAVE {}, not {}", peer.mrenclave, self.mrenclave()));
        }
        if peer.signing_key == self.keys().signing_public() {
            return Err("it presents this enclave's own signing key".into());
        }
        self.shard(shard).map_err(|e| e.to_string())?;
        let pc = self.parentchain.lock();
        if !pc.validateers().contains(&peer.signing_key) {
            return Err(format!(
                "0x{} is not a validateer of the shard in parentchain block #{}",
                hex::encode(peer.signing_key),
                pc.synced().map(|(n, _)| n).unwrap_or(0)
            ));
        }
        Ok(())
    }

    /// Provisions `shard` of `joiner` from this engine without MU-RA's TLS and parentchain
    /// checks, for in-process tools on the software backend only (the onboarding benchmark,
    /// which has no parentchain). The host never uses it; an SGX backend has no such call.
    #[doc(hidden)]
    pub fn provision_for_tools(&self, joiner: &Engine, shard: &ShardId) -> Result<ShardInfo, EnclaveError> {
        let provision = self.provision_for_peer(shard)?;
        joiner.install_provision(shard, provision).map(|(info, _)| info)
    }

    /// The shard's secrets and latest state, for a validateer that passed [`Self::check_peer`].
    fn provision_for_peer(&self, shard: &ShardId) -> Result<Provision, EnclaveError> {
        let open = self.shard(shard)?;
        // No block is committed meanwhile: head and state agree.
        let _authoring = open.authoring.lock();
        let head = {
            let inner = open.inner.lock();
            if !inner.provisioned {
                return Err(EnclaveError::Rejected("this validateer does not hold the shard's keys either".into()));
            }
            inner.chain.head().cloned()
        };
        let snapshot = open.state.read().snapshot().map_err(internal)?;
        let state_key = **open.state_key.read();
        Ok(Provision { shielding_key: self.keys().shielding_secret().to_vec(), state_key, head, snapshot })
    }

    /// Takes the secrets and state a provider sent: checks the state against the head it
    /// names, seals everything, replaces the shard and starts the light client again from the
    /// new state.
    fn install_provision(
        &self,
        shard: &ShardId,
        provision: Provision,
    ) -> Result<(ShardInfo, (BlockNumber, Hash)), EnclaveError> {
        let open = self.shard(shard)?;
        let _authoring = open.authoring.lock();
        if open.inner.lock().provisioned {
            return Err(EnclaveError::Rejected("this enclave already holds the shard's keys".into()));
        }
        let state = cloister_stf::ShardState::from_snapshot(&provision.snapshot)
            .map_err(|e| EnclaveError::Rejected(format!("the provided state does not check: {e}")))?;
        if let Some(head) = &provision.head {
            if head.state_root != state.root() || head.shard != *shard {
                return Err(EnclaveError::Rejected("the provided state is not the provided head's".into()));
            }
        }
        self.keys()
            .replace_shielding(&self.sealer, &provision.shielding_key)
            .map_err(|e| EnclaveError::Sealing(e.to_string()))?;
        let (key_file, state_file, _) = Self::files(shard);
        let sealed_state = Zeroizing::new((&provision.head, &provision.snapshot).encode());
        self.sealer
            .seal_file(&state_file, "shard-state", &sealed_state)
            .map_err(|e| EnclaveError::Sealing(e.to_string()))?;
        self.sealer
            .seal_file(&key_file, "shard-state-key", &provision.state_key)
            .map_err(|e| EnclaveError::Sealing(e.to_string()))?;
        {
            let mut inner = open.inner.lock();
            *open.state.write() = state;
            *open.state_key.write() = Zeroizing::new(provision.state_key);
            inner.reset_to(provision.head.clone());
            inner.provisioned = true;
        }
        self.rewrite_pool_journal(&open)?;
        self.restart_light_client(shard)?;
        let parentchain = self.parentchain_synced().unwrap_or_default();
        let info = open.info();
        tracing::info!(
            target: "mu-ra",
            head = info.head,
            parentchain = parentchain.0,
            "received the shard's keys and state from a validateer of the shard"
        );
        Ok((info, parentchain))
    }
}

#[cfg(test)]
mod tests {
    //! MU-RA between two engines in this process: real TLS sessions, bytes pumped between them
    //! as the hosts would (the host side is `cloister-worker`'s).
    use super::*;
    use crate::{boundary::OcallId, keys::EnclaveKeys, sealing::Sealer};
    use cloister_stf::executor::ParentchainEffect;

    struct Clock;

    impl crate::boundary::Ocalls for Clock {
        fn ocall(&self, id: OcallId, _request: &[u8]) -> Vec<u8> {
            match id {
                OcallId::Time => 1_000_000u64.encode(),
                OcallId::StoreBlock => Ok::<(), String>(()).encode(),
                OcallId::FetchBlocks => Vec::<Vec<u8>>::new().encode(),
            }
        }
    }

    const SHARD: ShardId = ShardId::repeat_byte(4);

    fn engine(dir: &std::path::Path, mrenclave: Mrenclave) -> Engine {
        let sealer = Sealer::open(dir, &mrenclave).expect("sealer");
        let keys = EnclaveKeys::load_or_generate(&sealer).expect("keys");
        let engine = Engine::new(mrenclave, sealer, keys, Arc::new(Clock));
        engine.init_shard(SHARD).expect("shard");
        engine
    }

    /// Runs a joiner's MU-RA request against a provider; `tamper` may change the provider's
    /// bytes on the way.
    fn join(provider: &Engine, joiner: &Engine, tamper: impl Fn(&mut Vec<u8>)) -> MuRaProgress {
        let (server, client) = (MuRa::new(provider).expect("identity"), MuRa::new(joiner).expect("identity"));
        let conn = server.accept(provider).expect("accept");
        let (id, mut to_server) = client.connect(joiner, SHARD).expect("connect");
        for _ in 0..20 {
            let (mut to_client, _) = server.server_data(provider, conn, &to_server).expect("server");
            tamper(&mut to_client);
            let (out, progress) = match client.client_data(joiner, id, &to_client) {
                Ok(answer) => answer,
                Err(_) => return MuRaProgress::Failed("the session is gone".into()),
            };
            if !matches!(progress, MuRaProgress::Pending) {
                return progress;
            }
            to_server = out;
        }
        MuRaProgress::Failed("no end".into())
    }

    fn validateers(engines: &[&Engine]) -> Vec<[u8; 32]> {
        engines.iter().map(|e| e.keys().signing_public()).collect()
    }

    #[test]
    fn a_registered_validateer_of_the_same_mrenclave_gets_the_keys_and_state() {
        let dir = tempfile::tempdir().expect("tmp");
        let provider = engine(&dir.path().join("p"), Mrenclave([1; 32]));
        let joiner = engine(&dir.path().join("j"), Mrenclave([1; 32]));
        provider
            .queue_parentchain(
                &SHARD,
                vec![(1, ParentchainEffect::Validateers(validateers(&[&provider, &joiner])))],
                (1, Hash::repeat_byte(1)),
                None,
            )
            .expect("queue");
        provider.author(&SHARD, 2, u64::MAX).expect("author").expect("the shard's first block");
        for engine in [&provider, &joiner] {
            engine.parentchain.lock().set_validateers_for_tests(validateers(&[&provider, &joiner]));
        }
        match join(&provider, &joiner, |_| {}) {
            MuRaProgress::Provisioned { info, .. } => {
                let theirs = provider.shard_info(&SHARD).expect("info");
                assert_eq!((info.head, info.state_root, info.provisioned), (theirs.head, theirs.state_root, true));
                assert_eq!(joiner.keys().shielding_public(), provider.keys().shielding_public());
            }
            other => panic!("not provisioned: {other:?}"),
        }
    }

    #[test]
    fn another_mrenclave_an_unregistered_enclave_or_a_tampered_stream_gets_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let provider = engine(&dir.path().join("p"), Mrenclave([1; 32]));
        provider.queue_parentchain(&SHARD, vec![], (1, Hash::repeat_byte(1)), None).expect("queue");
        provider.author(&SHARD, 2, u64::MAX).expect("author").expect("the shard's first block");
        let shielding = provider.keys().shielding_public();

        // Not among the shard's validateers on the parentchain.
        let stranger = engine(&dir.path().join("s"), Mrenclave([1; 32]));
        provider.parentchain.lock().set_validateers_for_tests(validateers(&[&provider]));
        stranger.parentchain.lock().set_validateers_for_tests(validateers(&[&provider, &stranger]));
        let refused = join(&provider, &stranger, |_| {});
        assert!(matches!(&refused, MuRaProgress::Failed(r) if r.contains("not a validateer")), "{refused:?}");

        // Another build: refused whatever the parentchain says.
        let other = engine(&dir.path().join("o"), Mrenclave([2; 32]));
        provider.parentchain.lock().set_validateers_for_tests(validateers(&[&provider, &other]));
        other.parentchain.lock().set_validateers_for_tests(validateers(&[&provider, &other]));
        let refused = join(&provider, &other, |_| {});
        assert!(matches!(&refused, MuRaProgress::Failed(r) if r.contains("MRENCLAVE")), "{refused:?}");

        // A provider's bytes changed on the way (its certificate among them): no session.
        let joiner = engine(&dir.path().join("j"), Mrenclave([1; 32]));
        provider.parentchain.lock().set_validateers_for_tests(validateers(&[&provider, &joiner]));
        joiner.parentchain.lock().set_validateers_for_tests(validateers(&[&provider, &joiner]));
        let refused = join(&provider, &joiner, |bytes| {
            if bytes.len() > 200 {
                bytes[200] ^= 1;
            }
        });
        assert!(matches!(&refused, MuRaProgress::Failed(_)), "{refused:?}");

        for engine in [&stranger, &other, &joiner] {
            let info = engine.shard_info(&SHARD).expect("info");
            assert!(!info.provisioned, "nothing was installed");
            assert_ne!(engine.keys().shielding_public(), shielding, "the shielding key stayed its own");
        }
    }
}
