// A regtest chain for powkit's chain validator, made and checked by bcoin.
//
//   node chain.js make FILE [HEIGHT]   mines HEIGHT (default 2100) blocks in
//       memory with bcoin's miner; from block 110 on, transactions spend
//       coins of every kind bcoin's wallet code signs (P2PK, P2PKH with
//       compressed and uncompressed keys, bare and P2SH multisig, P2WPKH,
//       P2WSH, both nested in P2SH), with every hash type, some with lock
//       times and relative (BIP68) locks, some OP_RETURN outputs; every
//       block goes through bcoin's full validation.  Writes the raw blocks
//       from genesis on, one hex line each, to FILE, and prints one JSON
//       line of counts.
//   node chain.js serve FILE PORT KEY  a bcoin full node in memory that
//       validates FILE's blocks itself (timed, for the benchmark), then
//       answers JSON-RPC on 127.0.0.1:PORT (API key KEY); prints
//       "ready HEIGHT SECONDS" and runs until stdin closes or SIGTERM.
'use strict';
const fs = require('fs');
const bcoin = require('bcoin');
const {Chain, Miner, MTX, KeyRing, Script, Coin, Block, Outpoint} = bcoin;

const ALL = 1, NONE = 2, SINGLE = 3, ACP = 0x80;
const TYPES = [ALL, ALL, ALL, NONE, SINGLE, ALL | ACP, NONE | ACP, SINGLE | ACP];

// A small deterministic generator, so a chain can be made again alike.
let seed = 20261206;
function rand(n) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

function key(i, compressed = true) {
  return KeyRing.fromPrivate(Buffer.alloc(32, i), compressed);
}

async function make(file, height) {
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

  // [name, output script, how to sign it, segwit]
  const kinds = [
    ['p2pk', p2pk(k1), {keys: [k1]}, false],
    ['p2pk_uncompressed', p2pk(ku), {keys: [ku]}, false],
    ['p2pkh', p2pkh(k1), {keys: [k1]}, false],
    ['p2pkh_uncompressed', p2pkh(ku), {keys: [ku]}, false],
    ['multisig_1of2', ms12, {keys: [k2]}, false],
    ['multisig_2of3', ms23, {keys: [k1, k3]}, false],
    ['p2sh_multisig', sh(ms23), {script: ms23, keys: [k2, k3]}, false],
    ['p2sh_p2pkh', sh(p2pkh(k2)), {script: p2pkh(k2), keys: [k2]}, false],
    ['p2wpkh', wpkh(k1), {witness: true, keys: [k1]}, true],
    ['p2wsh_multisig', wsh(ms23), {witness: true, script: ms23, keys: [k1, k2]}, true],
    ['p2wsh_p2pk', wsh(p2pk(k2)), {witness: true, script: p2pk(k2), keys: [k2]}, true],
    ['p2sh_p2wpkh', sh(wpkh(k2)), {witness: true, nested: true, keys: [k2]}, true],
    ['p2sh_p2wsh_multisig', sh(wsh(ms23)), {witness: true, nested: true, script: ms23, keys: [k2, k3]}, true],
  ];
  const spent = {}, made = {};
  for (const [name] of kinds)
    spent[name] = made[name] = 0;

  const addr = k1.getAddress(); // coinbases pay P2PKH to k1
  const coinbases = []; // [tx, height]
  let pool = []; // {coin, kind}
  const blocks = [];
  let segwit = false;
  let txs = 0, inputs = 0, locktimes = 0, seqlocks = 0, opreturns = 0;

  function signInput(mtx, i, coin, how, type) {
    let scripted = false;
    for (const k of how.keys) {
      const ring = KeyRing.fromPrivate(k.privateKey, k.publicKey.length === 33);
      ring.witness = !!how.witness;
      ring.nested = !!how.nested;
      ring.script = how.script || null;
      if (!scripted && !mtx.scriptInput(i, coin, ring))
        throw new Error(`cannot template input ${i}`);
      scripted = true;
      if (!mtx.signInput(i, coin, ring, type))
        throw new Error(`cannot sign input ${i}`);
    }
  }

  while (chain.height < height) {
    const h = chain.height + 1;
    const job = await miner.cpu.createJob(chain.tip, addr);
    const made_here = [];
    if (h > 110) {
      // A coinbase that has matured: fan it out into coins of every kind.
      const [cbtx, cbh] = coinbases.shift();
      const fund = new MTX();
      fund.addCoin(Coin.fromTX(cbtx, 0, cbh));
      const value = cbtx.outputs[0].value;
      const n = 6;
      for (let i = 0; i < n; i++) {
        const k = kinds[rand(kinds.length)];
        fund.addOutput(k[1], Math.floor((value - 20000) / n));
        made_here.push(k);
      }
      fund.sign(k1);
      const ftx = fund.toTX();
      if (!job.addTX(ftx, fund.view))
        throw new Error('the template refused a funding transaction');
      txs++;
      inputs++;
      for (let i = 0; i < n; i++) {
        made[made_here[i][0]]++;
        pool.push({coin: Coin.fromTX(ftx, i, -1), kind: made_here[i], born: h});
      }
      // Spend some of the pool: coins of earlier blocks only.
      const ready = pool.filter((c) => c.born < h && (segwit || !c.kind[3]));
      const nspend = Math.min(ready.length, 1 + rand(4));
      for (let t = 0; t < nspend; t++) {
        const nin = Math.min(1 + rand(3), ready.length);
        if (!nin)
          break;
        const mtx = new MTX();
        const use = ready.splice(0, nin);
        pool = pool.filter((c) => !use.includes(c));
        let total = 0;
        for (const c of use) {
          const coin = new Coin(c.coin);
          coin.height = c.born;
          mtx.addCoin(coin);
          total += coin.value;
        }
        // Sometimes a lock time in the past, sometimes a relative lock met.
        const style = rand(6);
        if (style === 0) {
          mtx.setLocktime(h - 1 - rand(50));
          locktimes++;
        } else if (style === 1 && segwit) {
          mtx.version = 2;
          for (let i = 0; i < use.length; i++)
            mtx.inputs[i].sequence = Math.max(1, Math.min(h - use[i].born, 1 + rand(3)));
          seqlocks++;
        }
        const nout = 1 + rand(3);
        for (let i = 0; i < nout; i++) {
          const k = kinds[rand(kinds.length)];
          mtx.addOutput(k[1], Math.floor((total - 10000) / nout));
          made[k[0]]++;
          made_here.push(k);
        }
        if (rand(5) === 0) {
          mtx.addOutput(Script.fromNulldata(Buffer.from(`powkit ${h}`)), 0);
          opreturns++;
        }
        for (let i = 0; i < use.length; i++) {
          const coin = mtx.view.getOutputFor(mtx.inputs[i]);
          signInput(mtx, i, coin, use[i].kind[2], TYPES[rand(TYPES.length)]);
          spent[use[i].kind[0]]++;
        }
        if (!mtx.verify())
          throw new Error(`a transaction at height ${h} does not verify`);
        const tx = mtx.toTX();
        if (!job.addTX(tx, mtx.view))
          throw new Error(`the template refused a transaction at height ${h}`);
        txs++;
        inputs += use.length;
        for (let i = 0; i < nout; i++)
          pool.push({coin: Coin.fromTX(tx, i, -1), kind: made_here[made_here.length - nout + i], born: h});
      }
    }
    job.refresh();
    const block = await job.mineAsync();
    await chain.add(block); // bcoin's full validation, scripts included
    coinbases.push([block.txs[0], h]);
    blocks.push(block.toRaw().toString('hex'));
    if (!segwit && chain.state.hasWitness())
      segwit = true;
  }
  const genesis = await chain.getBlock(0);
  fs.writeFileSync(file, [genesis.toRaw().toString('hex'), ...blocks].join('\n') + '\n');
  process.stdout.write(JSON.stringify({height: chain.height, txs, inputs, locktimes, seqlocks, opreturns,
                                       made, spent}) + '\n');
  await miner.close();
  await chain.close();
}

async function serve(file, port, apiKey) {
  const node = new bcoin.FullNode({
    network: 'regtest', memory: true, workers: false, listen: false, selfish: true, logLevel: 'error',
    httpHost: '127.0.0.1', httpPort: port, apiKey, coinCache: 0,
  });
  await node.open();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const t0 = process.hrtime.bigint();
  for (let i = 1; i < lines.length; i++)
    await node.chain.add(Block.fromRaw(Buffer.from(lines[i], 'hex')));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`ready ${node.chain.height} ${secs.toFixed(3)}\n`);
  const stop = async () => {
    try {
      await node.close();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

const [cmd, a, b, c] = process.argv.slice(2);
const run = cmd === 'make' ? make(a, Number(b || 2100))
          : cmd === 'serve' ? serve(a, Number(b), c)
          : Promise.reject(new Error('usage: chain.js make FILE [HEIGHT] | serve FILE PORT KEY'));
run.catch((e) => {
  process.stderr.write(`chain.js failed: ${e.stack}\n`);
  process.exit(1);
});
