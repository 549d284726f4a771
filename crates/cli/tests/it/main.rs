//! Integration tests of Cloister's parentchain: real `cloister-node` and `cloister` processes on
//! 127.0.0.1, driven as users and wallets drive them.

mod bad_input;
mod bench_sidechain;
mod ceremony;
mod cli;
mod consortium;
mod deploy;
mod dev;
mod enclaves;
mod keystore;
mod network;
mod node;
mod permissions;
mod polkadot_js;
mod private_community;
mod restart;
mod subxt;
mod validateer;
mod validateer_faults;
mod validateers;

use cloister_cli::{rpc_client::NodeClient, signer::Signer};
use cloister_testkit::NodeProcess;

/// A fresh account nobody else in the test run uses.
pub fn fresh_account(label: &str) -> Signer {
    Signer::from_suri(&format!("//Cloister//test//{label}//{}", std::process::id())).expect("valid suri")
}

/// Free balance of `who` at the best block.
pub async fn free_balance(node: &NodeProcess, who: &cloister_primitives::AccountId) -> u128 {
    let client = NodeClient::connect(&node.url()).await.expect("connect");
    cloister_cli::chain::account_info(&client, who).await.expect("account").data.free
}
