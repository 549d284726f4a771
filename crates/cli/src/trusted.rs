//! `cloister trusted --mrenclave M [--shard S] …`: talking to a shard's enclave.
//!
//! The client connects to the validateer's direct-invocation port over TLS, checks the
//! certificate's attestation (bound to the TLS key, for the pinned MRENCLAVE; dev attestation
//! only where the parentchain allows it) and then sends trusted operations HPKE-encrypted to the
//! enclave's shielding key for the shard. Calls are signed over (call, nonce, MRENCLAVE, shard);
//! getters over (getter, time, MRENCLAVE, shard). Shielding and unshielding also touch the
//! parentchain: a shielding is an extrinsic that moves funds into the shard's vault with the
//! beneficiary encrypted; an unshielding is a trusted call after which the enclave pays out of
//! the vault.

use crate::{
    chain::{account_info, value_key, CommandError},
    output::Report,
    rpc_client::NodeClient,
    signer::{parse_account, Signer},
};
use cloister_client::{ClientError, ShardClient};
use cloister_enclave::engine::shield_info;
use cloister_primitives::{AccountId, Balance, Hash, Mrenclave, Nonce, ShardId};
use cloister_runtime::RuntimeCall;
use cloister_stf::{TrustedCall, TrustedGetter, TrustedOperation};
use codec::{Decode, Encode};
use serde_json::{json, Value};
use std::time::Duration;

/// A connection to a shard's enclave: [`ShardClient`] with the CLI's signers and errors.
pub struct TrustedClient {
    inner: ShardClient,
    /// The pinned measurement.
    pub mrenclave: Mrenclave,
    /// The shard.
    pub shard: ShardId,
}

fn invalid(message: impl Into<String>) -> CommandError {
    CommandError::Invalid(message.into())
}

impl From<ClientError> for CommandError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Refused(reason) => CommandError::Refused(reason),
            other => CommandError::Invalid(other.to_string()),
        }
    }
}

impl TrustedClient {
    /// Connects to `worker_url`, accepting only an enclave with `mrenclave`. Dev attestation is
    /// accepted only if the parentchain behind `node` allows it.
    pub async fn connect(
        node: &NodeClient,
        worker_url: &str,
        mrenclave: Mrenclave,
        shard: Option<ShardId>,
    ) -> Result<Self, CommandError> {
        let allow_dev: bool = node
            .storage_or_default(
                "EnclaveRegistry.AllowDevAttestation",
                &value_key("EnclaveRegistry", "AllowDevAttestation"),
                None,
            )
            .await?;
        let inner = ShardClient::connect(worker_url, mrenclave, shard, allow_dev).await?;
        Ok(Self { mrenclave, shard: inner.shard(), inner })
    }

    /// Runs a getter signed by `signer`; returns the SCALE answer.
    pub async fn get(&self, signer: &Signer, getter: TrustedGetter) -> Result<Vec<u8>, CommandError> {
        Ok(self.inner.get(getter, |p| signer.sign(p)).await?)
    }

    /// The signer's balance on the shard.
    pub async fn balance(&self, signer: &Signer) -> Result<Balance, CommandError> {
        let bytes = self.get(signer, TrustedGetter::Balance(signer.account())).await?;
        Balance::decode(&mut &bytes[..]).map_err(|_| invalid("the enclave sent a malformed balance"))
    }

    /// The signer's next nonce on the shard.
    pub async fn nonce(&self, signer: &Signer) -> Result<Nonce, CommandError> {
        Ok(self.inner.nonce(signer.account(), |p| signer.sign(p)).await?)
    }

    /// Signs `call` with the signer's next nonce, submits it and follows it until it is in a
    /// sidechain block (or `Finalized` with `wait_final`). Returns the block hash.
    pub async fn call(&self, signer: &Signer, call: TrustedCall, wait_final: bool) -> Result<Hash, CommandError> {
        Ok(self.inner.call(call, |p| signer.sign(p), wait_final).await?)
    }
}

impl TrustedClient {
    /// Sends `call` as a shielded call on the parentchain (indirect invocation) and waits until
    /// the shard has applied it (the signer's shard nonce moves). Returns the parentchain block.
    pub async fn call_indirect(
        &self,
        node: &NodeClient,
        signer: &Signer,
        call: TrustedCall,
    ) -> Result<Hash, CommandError> {
        let nonce = self.nonce(signer).await?;
        let signed = self.inner.sign(call, nonce, |p| signer.sign(p));
        let ciphertext = self.inner.encrypt_raw(&TrustedOperation::Call(signed))?;
        let xt = node
            .sign_next(
                signer,
                RuntimeCall::Sidechain(pallet_cloister_sidechain::Call::call_worker { shard: self.shard, ciphertext }),
            )
            .await?;
        let inclusion = node.submit_and_wait(&xt, true).await?;
        let applied = wait_until(Duration::from_secs(120), || async { Ok(self.nonce(signer).await? > nonce) }).await?;
        if !applied {
            return Err(invalid("the shard did not apply the shielded call in time"));
        }
        Ok(inclusion.block)
    }
}

/// `trusted balance ACCOUNT`.
pub async fn balance(client: &TrustedClient, account: &str) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(account)?;
    let free = client.balance(&signer).await?;
    Ok(Report::new(
        format!("{free}"),
        json!({ "account": crate::signer::ss58(&signer.account()), "free": free.to_string() }),
    ))
}

/// `trusted nonce ACCOUNT`.
pub async fn nonce(client: &TrustedClient, account: &str) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(account)?;
    let nonce = client.nonce(&signer).await?;
    Ok(Report::new(format!("{nonce}"), json!({ "account": crate::signer::ss58(&signer.account()), "nonce": nonce })))
}

/// How a trusted call travels and how long the client follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Straight to the enclave; done when it is in a sidechain block.
    Direct,
    /// Straight to the enclave; done when that block is anchored on the parentchain.
    DirectFinal,
    /// As a shielded call in a parentchain extrinsic.
    Indirect,
}

/// Where a delivered call ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Applied in this sidechain block.
    Sidechain(Hash),
    /// Sent in this parentchain block as a shielded call, and applied by the shard.
    Parentchain(Hash),
}

impl Delivered {
    /// "in sidechain block 0x…" or "through the parentchain (…)", for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Sidechain(block) => format!("in sidechain block {block:?}"),
            Self::Parentchain(block) => {
                format!("through the parentchain (shielded call in parentchain block {block:?})")
            }
        }
    }

    /// The JSON fields that say where: `block` or `parentchain_block`.
    pub fn json(&self) -> serde_json::Map<String, Value> {
        let mut map = serde_json::Map::new();
        match self {
            Self::Sidechain(block) => map.insert("block".into(), json!(format!("{block:?}"))),
            Self::Parentchain(block) => map.insert("parentchain_block".into(), json!(format!("{block:?}"))),
        };
        map
    }
}

/// Sends `call`, signed by `signer`, the way `how` says.
pub async fn deliver(
    node: &NodeClient,
    client: &TrustedClient,
    signer: &Signer,
    call: TrustedCall,
    how: Delivery,
) -> Result<Delivered, CommandError> {
    Ok(match how {
        Delivery::Indirect => Delivered::Parentchain(client.call_indirect(node, signer, call).await?),
        Delivery::Direct => Delivered::Sidechain(client.call(signer, call, false).await?),
        Delivery::DirectFinal => Delivered::Sidechain(client.call(signer, call, true).await?),
    })
}

/// `trusted transfer FROM TO AMOUNT [--indirect | --wait-final]`.
pub async fn transfer(
    node: &NodeClient,
    client: &TrustedClient,
    (from, to, amount): (&str, &str, Balance),
    how: Delivery,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(from)?;
    let to = parse_account(to)?;
    let call = TrustedCall::Transfer { from: signer.account(), to, amount };
    let delivered = deliver(node, client, &signer, call, how).await?;
    let mut json = delivered.json();
    json.insert("amount".into(), json!(amount.to_string()));
    Ok(Report::new(format!("transferred {amount} {}", delivered.describe()), Value::Object(json)))
}

/// `trusted shield-funds ACCOUNT AMOUNT`: moves parentchain funds of ACCOUNT into its shard
/// account, and waits until the shard credits them.
pub async fn shield_funds(
    node: &NodeClient,
    client: &TrustedClient,
    account: &str,
    amount: Balance,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(account)?;
    let before = client.balance(&signer).await?;
    let encrypted = cloister_enclave::keys::shield(
        client.inner.shielding_key(),
        &shield_info(&client.shard),
        &signer.account().encode(),
    )
    .map_err(|e| invalid(e.to_string()))?;
    let call = RuntimeCall::Sidechain(pallet_cloister_sidechain::Call::shield_funds {
        shard: client.shard,
        encrypted_beneficiary: encrypted,
        amount,
    });
    let xt = node.sign_next(&signer, call).await?;
    let inclusion = node.submit_and_wait(&xt, true).await?;
    let credited = wait_until(Duration::from_secs(120), || async {
        Ok(client.balance(&signer).await? >= before.saturating_add(amount))
    })
    .await?;
    if !credited {
        return Err(invalid("the shard did not credit the shielded funds in time"));
    }
    Ok(Report::new(
        format!("shielded {amount} (parentchain block {:?}); shard balance credited", inclusion.block),
        json!({ "parentchain_block": format!("{:?}", inclusion.block), "amount": amount.to_string() }),
    ))
}

/// `trusted unshield-funds ACCOUNT AMOUNT`: burns shard funds and waits for the parentchain
/// payout to ACCOUNT.
pub async fn unshield_funds(
    node: &NodeClient,
    client: &TrustedClient,
    account: &str,
    amount: Balance,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(account)?;
    let who: AccountId = signer.account();
    let before = account_info(node, &who).await?.data.free;
    let block = client
        .call(&signer, TrustedCall::Unshield { from: who.clone(), beneficiary: who.clone(), amount }, false)
        .await?;
    let paid = wait_until(Duration::from_secs(120), || async {
        Ok(account_info(node, &who).await?.data.free >= before.saturating_add(amount))
    })
    .await?;
    if !paid {
        return Err(invalid("the parentchain payout did not arrive in time"));
    }
    Ok(Report::new(
        format!("unshielded {amount} (sidechain block {block:?}); paid out on the parentchain"),
        json!({ "block": format!("{block:?}"), "amount": amount.to_string() }),
    ))
}

/// Polls `check` every 250 ms until it holds or `timeout` passes; whether it held.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> Result<bool, CommandError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, CommandError>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await? {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(false)
}
