// Random scripts and transactions judged by bcoin's interpreter, for
// powkit's differential test (scripts/diff-bcoin.sh, tests/test_diff_bcoin):
//   node script_diff.js N [SEED]
// prints N JSON lines {"i","tx","spk","value","flags","bcoin"}: the
// spending transaction (input 0 spends an output of spk and value), the
// flags as Core's bit mask (bcoin uses Core's bits; no taproot: bcoin
// 1.0.2 predates it, so TAPROOT is never set), and bcoin's verdict, "OK"
// or its error code.  A third of the cases are real spends signed here by
// bcoin (P2PK, P2PKH, multisig bare, in P2SH, P2WSH and P2SH-P2WSH,
// P2WPKH, P2SH-P2WPKH, with every hash type), some of them with a byte
// changed; the rest are random scripts from an alphabet weighted toward
// what makes scripts run far.
'use strict';
const bcoin = require('bcoin');
const {KeyRing, Script, TX, MTX, Witness, Opcode} = bcoin;
const crypto = require('crypto');

const N = parseInt(process.argv[2] || '1000', 10);
let seed = BigInt(parseInt(process.argv[3] || '1', 10));

function next() {
  // splitmix64
  seed = (seed + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  let z = seed;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
  return z ^ (z >> 31n);
}
const below = (n) => Number(next() % BigInt(n));
const chance = (p) => below(1000000) < p * 1000000;
const pick = (a) => a[below(a.length)];
const bytes = (n) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = below(256);
  return b;
};

const F = {
  P2SH: 1 << 0, STRICTENC: 1 << 1, DERSIG: 1 << 2, LOW_S: 1 << 3, NULLDUMMY: 1 << 4, SIGPUSHONLY: 1 << 5,
  MINIMALDATA: 1 << 6, DISCOURAGE_UPGRADABLE_NOPS: 1 << 7, CLEANSTACK: 1 << 8, CHECKLOCKTIMEVERIFY: 1 << 9,
  CHECKSEQUENCEVERIFY: 1 << 10, WITNESS: 1 << 11, DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM: 1 << 12,
  MINIMALIF: 1 << 13, NULLFAIL: 1 << 14, WITNESS_PUBKEYTYPE: 1 << 15,
};

function randomFlags() {
  let f = 0;
  if (chance(0.3)) {
    f = F.P2SH | F.DERSIG | F.NULLDUMMY | F.CHECKLOCKTIMEVERIFY | F.CHECKSEQUENCEVERIFY | F.WITNESS;
    if (chance(0.5)) f |= 0xffff; // and the policy flags
  } else {
    f = below(1 << 16);
  }
  if (f & F.CLEANSTACK) f |= F.WITNESS;
  if (f & F.WITNESS) f |= F.P2SH;
  return f;
}

// ---- random scripts ----

const OPS = [
  0x00, 0x4f, 0x51, 0x52, 0x53, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
  0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x82,
  0x83, 0x87, 0x88, 0x89, 0x8b, 0x8c, 0x8d, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x9a, 0x9b, 0x9c, 0x9d,
  0x9e, 0x9f, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
  0xb0, 0xb1, 0xb2, 0xb3, 0xb9, 0xba, 0xbb, 0xfe, 0xff, 0x50,
];

function pushData(d) {
  const n = d.length;
  if (n < 0x4c && !chance(0.05)) return Buffer.concat([Buffer.from([n]), d]);
  if (n <= 0xff && !chance(0.1)) return Buffer.concat([Buffer.from([0x4c, n]), d]);
  const h = Buffer.alloc(3);
  h[0] = 0x4d;
  h.writeUInt16LE(n, 1);
  return Buffer.concat([h, d]);
}

function randomPush() {
  const r = below(10);
  if (r < 3) return Buffer.from([pick([0x00, 0x4f, 0x51, 0x52, 0x53, 0x54, 0x60])]);
  if (r < 5) return pushData(bytes(below(5)));
  if (r < 6) return pushData(Buffer.from([pick([0x80, 0x00, 0x81, 0x01, 0xff, 0x7f])]));
  if (r < 7) return pushData(bytes(pick([20, 32, 33, 65, 71, 72])));
  if (r < 8) return pushData(bytes(below(10)));
  if (r < 9) return Buffer.from([0x01, below(256)]); // a possibly non-minimal small number
  return pushData(bytes(pick([519, 520, 521])));
}

function randomScript(len, pushOnly) {
  const parts = [];
  for (let i = 0; i < len; i++) parts.push(pushOnly || chance(0.45) ? randomPush() : Buffer.from([pick(OPS)]));
  if (chance(0.05)) parts.push(bytes(1 + below(3))); // maybe a truncated push at the end
  return Buffer.concat(parts);
}

function randomSpk() {
  const r = below(10);
  if (r < 5) return randomScript(1 + below(12), false);
  if (r < 6) {
    const inner = randomScript(1 + below(8), false);
    return {p2sh: inner, spk: Buffer.concat([Buffer.from([0xa9, 0x14]), hash160(inner), Buffer.from([0x87])])};
  }
  if (r < 8) {
    const ws = randomScript(1 + below(10), false);
    return {p2wsh: ws, spk: Buffer.concat([Buffer.from([0x00, 0x20]), sha256(ws)])};
  }
  if (r < 9) return Buffer.concat([Buffer.from([pick([0x00, 0x51, 0x52, 0x60]), 20]), bytes(20)]);
  return Buffer.concat([Buffer.from([pick([0x00, 0x51, 0x53]), 32]), bytes(32)]);
}

const sha256 = (d) => crypto.createHash('sha256').update(d).digest();
const hash160 = (d) => crypto.createHash('ripemd160').update(sha256(d)).digest();

// ---- transactions ----

function baseTx(version, locktime, sequence) {
  const mtx = new MTX();
  mtx.version = version;
  mtx.locktime = locktime;
  mtx.addInput({prevout: {hash: bytes(32).toString('hex'), index: below(3)}, script: new Script(), sequence});
  if (chance(0.3))
    mtx.addInput({prevout: {hash: bytes(32).toString('hex'), index: 1}, script: new Script(), sequence: 0xffffffff});
  mtx.addOutput({script: Script.fromRaw(Buffer.from([0x51])), value: 1000});
  if (chance(0.3)) mtx.addOutput({script: Script.fromRaw(bytes(22)), value: 7});
  return mtx;
}

function randomCase() {
  const version = pick([1, 2, 2, 3]);
  const locktime = pick([0, 0, below(500000000), 500000000 + below(100000)]);
  const sequence = pick([0xffffffff, 0xfffffffe, below(0x10000), (1 << 22) | below(0x10000), 0x80000000 + below(1000)]);
  const mtx = baseTx(version, locktime, sequence);
  let spk = randomSpk(), wrapped = null, ws = null;
  if (spk.p2sh) (wrapped = spk.p2sh), (spk = spk.spk);
  else if (spk.p2wsh) (ws = spk.p2wsh), (spk = spk.spk);
  let sig = randomScript(below(5), !chance(0.1));
  if (wrapped) sig = Buffer.concat([sig, pushData(wrapped)]);
  const wit = [];
  if (ws || chance(0.3)) {
    const n = below(5);
    for (let i = 0; i < n; i++) wit.push(pick([Buffer.alloc(0), bytes(below(4)), Buffer.from([1]), bytes(72), bytes(33)]));
    if (ws) wit.push(ws);
    if (ws && chance(0.1)) wit.pop();
  }
  mtx.inputs[0].script = Script.fromRaw(sig);
  mtx.inputs[0].witness = Witness.fromItems(wit);
  return {mtx, spk, value: below(100000)};
}

// ---- real spends, signed here ----

const KEYS = [];
for (let i = 1; i <= 4; i++) KEYS.push(KeyRing.fromPrivate(Buffer.alloc(32, i), i !== 4));
const TYPES = [1, 2, 3, 0x81, 0x82, 0x83];

function signedCase() {
  const mtx = baseTx(pick([1, 2]), 0, 0xffffffff);
  const value = 1000 + below(100000);
  const k = pick(KEYS), type = pick(TYPES);
  const kind = below(8);
  const ms = Script.fromMultisig(2, 3, [KEYS[0].publicKey, KEYS[1].publicKey, KEYS[2].publicKey]);
  let spk, redeem = null, segwit = false, code;
  const sigs = (c, ver, keys) => keys.map((kk) => mtx.signature(0, c, value, kk.privateKey, type, ver));
  const input = mtx.inputs[0];
  switch (kind) {
    case 0: { // P2PK
      spk = Script.fromPubkey(k.publicKey);
      input.script = Script.fromItems([sigs(spk, 0, [k])[0]]);
      break;
    }
    case 1: { // P2PKH
      spk = Script.fromPubkeyhash(k.getKeyHash());
      input.script = Script.fromItems([sigs(spk, 0, [k])[0], k.publicKey]);
      break;
    }
    case 2: { // bare 2-of-3
      spk = ms;
      input.script = Script.fromItems([Buffer.alloc(0), ...sigs(ms, 0, [KEYS[0], KEYS[2]])]);
      break;
    }
    case 3: { // P2SH 2-of-3
      spk = Script.fromScripthash(ms.hash160());
      input.script = Script.fromItems([Buffer.alloc(0), ...sigs(ms, 0, [KEYS[1], KEYS[2]]), ms.toRaw()]);
      break;
    }
    case 4: { // P2WPKH
      spk = Script.fromProgram(0, k.getKeyHash());
      code = Script.fromPubkeyhash(k.getKeyHash());
      input.witness = Witness.fromItems([sigs(code, 1, [k])[0], k.publicKey]);
      break;
    }
    case 5: { // P2SH-P2WPKH
      redeem = Script.fromProgram(0, k.getKeyHash());
      spk = Script.fromScripthash(redeem.hash160());
      code = Script.fromPubkeyhash(k.getKeyHash());
      input.script = Script.fromItems([redeem.toRaw()]);
      input.witness = Witness.fromItems([sigs(code, 1, [k])[0], k.publicKey]);
      break;
    }
    case 6: { // P2WSH 2-of-3
      spk = Script.fromProgram(0, ms.sha256());
      input.witness = Witness.fromItems([Buffer.alloc(0), ...sigs(ms, 1, [KEYS[0], KEYS[1]]), ms.toRaw()]);
      break;
    }
    default: { // P2SH-P2WSH 2-of-3
      redeem = Script.fromProgram(0, ms.sha256());
      spk = Script.fromScripthash(redeem.hash160());
      input.script = Script.fromItems([redeem.toRaw()]);
      input.witness = Witness.fromItems([Buffer.alloc(0), ...sigs(ms, 1, [KEYS[0], KEYS[2]]), ms.toRaw()]);
      break;
    }
  }
  void segwit;
  // Sometimes a change: a byte of a signature or key, the amount, the hash type, the sequence.
  let v = value;
  const r = below(10);
  if (r === 0) v += 1;
  else if (r === 1 && input.witness.items.length) {
    const items = input.witness.items;
    const it = items[below(items.length)];
    if (it.length) it[below(it.length)] ^= 1 << below(8);
  } else if (r === 2) {
    const raw = input.script.toRaw();
    if (raw.length) {
      raw[below(raw.length)] ^= 1 << below(8);
      input.script = Script.fromRaw(raw);
    }
  } else if (r === 3) {
    input.sequence = 7;
  }
  return {mtx, spk: spk.toRaw(), value: v};
}

for (let i = 0; i < N; i++) {
  const c = chance(0.33) ? signedCase() : randomCase();
  const flags = randomFlags();
  const tx = c.mtx.toTX();
  const spk = Script.fromRaw(c.spk);
  let verdict = 'OK';
  try {
    Script.verify(tx.inputs[0].script, tx.inputs[0].witness, spk, tx, 0, c.value, flags);
  } catch (e) {
    verdict = e.code || ('THROWN: ' + e.message);
  }
  process.stdout.write(JSON.stringify({i, tx: tx.toRaw().toString('hex'), spk: c.spk.toString('hex'), value: c.value,
                                       flags, bcoin: verdict}) + '\n');
}
