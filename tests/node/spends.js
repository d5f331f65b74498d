// Makes a regtest block whose inputs spend one output of every template
// kind powkit recognises, signed by bcoin's wallet code with every legacy
// and segwit v0 hash type, and accepted by bcoin's full validation (the
// chain rejects a block with one bad script).  Prints one JSON line:
// {"height":N,"block":HEX,"prevouts":<getblock HASH 3 style object>}.
'use strict';
const bcoin = require('bcoin');
const {Chain, Miner, MTX, KeyRing, Script, Coin} = bcoin;

const ALL = 1, NONE = 2, SINGLE = 3, ACP = 0x80;
const TYPES = [ALL, NONE, SINGLE, ALL | ACP, NONE | ACP, SINGLE | ACP];

function key(i, compressed = true) {
  return KeyRing.fromPrivate(Buffer.alloc(32, i), compressed);
}

async function main() {
  const chain = new Chain({network: 'regtest', memory: true, workers: null});
  await chain.open();
  const miner = new Miner({chain});
  await miner.open();

  const k1 = key(1), k2 = key(2), k3 = key(3), ku = key(9, false);
  const pub = (k) => k.publicKey;
  const ms12 = Script.fromMultisig(1, 2, [pub(k1), pub(k2)]);
  const ms23 = Script.fromMultisig(2, 3, [pub(k1), pub(k2), pub(k3)]);
  const p2pk = (k) => Script.fromPubkey(pub(k));
  const p2pkh = (k) => Script.fromPubkeyhash(k.getKeyHash());
  const sh = (s) => Script.fromScripthash(s.hash160());
  const wsh = (s) => Script.fromProgram(0, s.sha256());
  const wpkh = (k) => Script.fromProgram(0, k.getKeyHash());

  // [output script, how to sign it: {script, witness, nested, keys}]
  const kinds = [
    ['p2pk', p2pk(k1), {keys: [k1]}],
    ['p2pk', p2pk(ku), {keys: [ku]}],
    ['p2pkh', p2pkh(k1), {keys: [k1]}],
    ['p2pkh', p2pkh(ku), {keys: [ku]}],
    ['multisig', ms12, {keys: [k2]}],
    ['multisig', ms23, {keys: [k1, k3]}],
    ['p2sh_multisig', sh(ms23), {script: ms23, keys: [k2, k3]}],
    ['p2sh_p2pk', sh(p2pk(k1)), {script: p2pk(k1), keys: [k1]}],
    ['p2sh_p2pkh', sh(p2pkh(k2)), {script: p2pkh(k2), keys: [k2]}],
    ['p2wpkh', wpkh(k1), {witness: true, keys: [k1]}],
    ['p2wsh_multisig', wsh(ms23), {witness: true, script: ms23, keys: [k1, k2]}],
    ['p2wsh_p2pk', wsh(p2pk(k2)), {witness: true, script: p2pk(k2), keys: [k2]}],
    ['p2wsh_p2pkh', wsh(p2pkh(k3)), {witness: true, script: p2pkh(k3), keys: [k3]}],
    ['p2sh_p2wpkh', sh(wpkh(k2)), {witness: true, nested: true, keys: [k2]}],
    ['p2sh_p2wsh_multisig', sh(wsh(ms23)), {witness: true, nested: true, script: ms23, keys: [k2, k3]}],
    ['p2sh_p2wsh_p2pk', sh(wsh(p2pk(k1))), {witness: true, nested: true, script: p2pk(k1), keys: [k1]}],
    ['p2sh_p2wsh_p2pkh', sh(wsh(p2pkh(k1))), {witness: true, nested: true, script: p2pkh(k1), keys: [k1]}],
  ];

  // Past segwit's activation (BIP9 on regtest: three 144-block windows).
  const addr = k1.getAddress();
  let first = null;
  for (let i = 0; i < 440; i++) {
    const block = await miner.mineBlock(chain.tip, addr);
    await chain.add(block);
    if (!first)
      first = block;
  }

  async function mineWith(tx, view) {
    const job = await miner.cpu.createJob(chain.tip, addr);
    if (!job.addTX(tx, view))
      throw new Error('the template refused the transaction');
    job.refresh();
    const block = await job.mineAsync();
    await chain.add(block); // full validation, scripts included
    return block;
  }

  // Fund one output of each kind from a mature coinbase.
  const fund = new MTX();
  fund.addCoin(Coin.fromTX(first.txs[0], 0, 1));
  for (const [, script] of kinds)
    fund.addOutput(script, 100000000);
  fund.addOutput(p2pkh(k1), 5000000000 - kinds.length * 100000000 - 100000);
  fund.sign(k1);
  if (!fund.verify())
    throw new Error('funding transaction does not verify');
  const fundTx = fund.toTX();
  await mineWith(fundTx, fund.view);
  const fundHeight = chain.height;

  // Spend them all, a hash type per input in turn.
  const spend = new MTX();
  for (let i = 0; i < kinds.length; i++) {
    spend.addCoin(Coin.fromTX(fundTx, i, fundHeight));
    spend.addOutput(wpkh(k1), 90000000);
  }
  for (let i = 0; i < kinds.length; i++) {
    const [name, , how] = kinds[i];
    const coin = spend.view.getOutputFor(spend.inputs[i]);
    let scripted = false;
    for (const k of how.keys) {
      const ring = KeyRing.fromPrivate(k.privateKey, k.publicKey.length === 33);
      ring.witness = !!how.witness;
      ring.nested = !!how.nested;
      ring.script = how.script || null;
      if (!scripted && !spend.scriptInput(i, coin, ring))
        throw new Error(`cannot template input ${i} (${name})`);
      scripted = true;
      if (!spend.signInput(i, coin, ring, TYPES[i % TYPES.length]))
        throw new Error(`cannot sign input ${i} (${name})`);
    }
  }
  if (!spend.verify())
    throw new Error('spending transaction does not verify');
  const spendTx = spend.toTX();
  const block = await mineWith(spendTx, spend.view);

  // The prevouts as Bitcoin Core's getblock HASH 3 prints them.
  const btc = (v) => (v / 1e8).toFixed(8);
  const txs = block.txs.map((tx, ti) => {
    const vin = tx.inputs.map((input, k) => {
      if (ti === 0)
        return `{"coinbase":"${input.script.toRaw().toString('hex')}","sequence":${input.sequence}}`;
      const view = tx.hash().equals(spendTx.hash()) ? spend.view : null;
      const coin = view.getOutputFor(input);
      return `{"txid":"${input.prevout.txid()}","vout":${input.prevout.index},"prevout":{"generated":false,`
        + `"height":${fundHeight},"value":${btc(coin.value)},"scriptPubKey":{"hex":"${coin.script.toRaw().toString('hex')}",`
        + `"type":"${kinds[k][0]}"}},"sequence":${input.sequence}}`;
    });
    return `{"txid":"${tx.txid()}","hash":"${tx.wtxid()}","vin":[${vin.join(',')}]}`;
  });
  const prevouts = `{"hash":"${block.rhash()}","height":${chain.height},"tx":[${txs.join(',')}]}`;
  process.stdout.write(`{"height":${chain.height},"block":"${block.toRaw().toString('hex')}","prevouts":${prevouts}}\n`);
  await miner.close();
  await chain.close();
}

main().catch((e) => {
  process.stderr.write(`spends.js failed: ${e.stack}\n`);
  process.exit(1);
});
