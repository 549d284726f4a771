// Drives a Cloister node with unmodified @polkadot/api: connect, read System.Account, follow new
// and finalized heads, sign and submit Balances.transfer_keep_alive, and see it in a block.
// Usage: node transfer.mjs ws://127.0.0.1:9944 AMOUNT RECEIVER_SS58
// Prints one JSON line with what it observed; exits non-zero on any failure.
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/api';
import { cryptoWaitReady } from '@polkadot/util-crypto';

const url = process.argv[2] ?? 'ws://127.0.0.1:9944';
const amount = BigInt(process.argv[3] ?? '1000000000000');
const fail = (msg) => { console.error(msg); process.exit(1); };
setTimeout(() => fail('timed out'), 90_000).unref();

await cryptoWaitReady();
const api = await ApiPromise.create({ provider: new WsProvider(url), noInitWarn: true, throwOnConnect: true });
const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
const alice = keyring.addFromUri('//Alice');
const receiver = process.argv[4] ?? keyring.addFromUri('//Bob').address;

const before = (await api.query.system.account(receiver)).data.free.toBigInt();

// New and finalized heads.
const heads = await new Promise((resolve) => {
  const seen = { best: [], finalized: [] };
  let unsubs = [];
  const check = () => {
    if (seen.best.length >= 2 && seen.finalized.length >= 2) { unsubs.forEach((u) => u()); resolve(seen); }
  };
  Promise.all([
    api.rpc.chain.subscribeNewHeads((h) => { seen.best.push(h.number.toNumber()); check(); }),
    api.rpc.chain.subscribeFinalizedHeads((h) => { seen.finalized.push(h.number.toNumber()); check(); }),
  ]).then((u) => { unsubs = u; check(); });
});

// Sign and submit a transfer, follow it to finality.
const result = await new Promise((resolve, reject) => {
  const status = [];
  let sawTransferEvent = false;
  api.tx.balances.transferKeepAlive(receiver, amount)
    .signAndSend(alice, ({ status: s, dispatchError, events }) => {
      status.push(s.type);
      if (dispatchError) reject(new Error(`dispatch error: ${dispatchError.toString()}`));
      // With instant finality the client may skip reporting inBlock; events come with either.
      if (s.isInBlock || s.isFinalized) {
        sawTransferEvent ||= events.some(({ event }) => api.events.balances.Transfer.is(event));
      }
      if (s.isFinalized) resolve({ status, sawTransferEvent, block: s.asFinalized.toHex() });
    })
    .catch(reject);
});

const after = (await api.query.system.account(receiver)).data.free.toBigInt();
const chain = (await api.rpc.system.chain()).toString();
const version = api.runtimeVersion.specName.toString();
console.log(JSON.stringify({
  chain, specName: version, heads, status: result.status, sawTransferEvent: result.sawTransferEvent, block: result.block,
  before: before.toString(), after: after.toString(), delta: (after - before).toString(),
}));
await api.disconnect();
process.exit(0);
