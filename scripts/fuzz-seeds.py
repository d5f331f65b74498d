#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) from
the real data in tests/data and the inputs of the defects the targets
guard against.  Run from the project root; the output is committed."""
import hashlib, json, os, struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, 'tests', 'data')
OUT = os.path.join(ROOT, 'tests', 'fuzz', 'corpus')


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def sha256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def compact(n):
    if n < 0xfd:
        return bytes([n])
    if n <= 0xffff:
        return b'\xfd' + struct.pack('<H', n)
    if n <= 0xffffffff:
        return b'\xfe' + struct.pack('<I', n)
    return b'\xff' + struct.pack('<Q', n)


def read_compact(b, pos):
    v = b[pos]
    if v < 0xfd:
        return v, pos + 1
    w = {0xfd: 2, 0xfe: 4, 0xff: 8}[v]
    return int.from_bytes(b[pos + 1:pos + 1 + w], 'little'), pos + 1 + w


def io_end(b, pos):
    """End offset of the inputs and outputs that start (input count) at pos."""
    nin, pos = read_compact(b, pos)
    for _ in range(nin):
        pos += 36
        l, pos = read_compact(b, pos)
        pos += l + 4
    nout, pos = read_compact(b, pos)
    for _ in range(nout):
        pos += 8
        l, pos = read_compact(b, pos)
        pos += l
    return nin, pos


def tx_end(b, pos):
    """End offset of the (legacy or segwit) transaction at pos."""
    segwit = b[pos + 4] == 0 and b[pos + 5] == 1
    nin, pos = io_end(b, pos + (6 if segwit else 4))
    if segwit:
        for _ in range(nin):
            k, pos = read_compact(b, pos)
            for _ in range(k):
                l, pos = read_compact(b, pos)
                pos += l
    return pos + 4


block = open(os.path.join(DATA, 'block413567.raw'), 'rb').read()
ntx, pos = read_compact(block, 80)
txs = []
for _ in range(ntx):
    end = tx_end(block, pos)
    txs.append(block[pos:end])
    pos = end

# ---- blocks: the real header with a few real transactions each ----
for k, picks in enumerate([[0], [0, 1, 2], [0, 100, 513], [0] + list(range(1, 12))]):
    put('block', f'413567-{k}', block[:80] + compact(len(picks)) + b''.join(txs[i] for i in picks))
put('block', 'truncated-after-header', block[:80] + b'\x03' + txs[0][:30])
# A coinbase whose height push is 8 bytes (the BIP34 reader shifted past its width).
cb = bytearray(txs[0])
sl_at = 4 + 1 + 36
cb_script = b'\x08' + b'\xff' * 8
cb2 = bytes(cb[:sl_at]) + compact(len(cb_script)) + cb_script + bytes(cb[sl_at + 1 + cb[sl_at]:])
put('block', 'bip34-8-byte-push', block[:80] + b'\x02' + cb2 + txs[1])

# ---- templates ----
seg_tx = bytes.fromhex('0200000000010111111111111111111111111111111111111111111111111111111111111111110100000000'
                       'fdffffff01e803000000000000015101020102' '00000000')
tmpl = {'height': 413567, 'version': 0x20000000, 'bits': '18062776', 'curtime': 1464380000,
        'coinbasevalue': 2500000000, 'previousblockhash': block[4:36][::-1].hex(),
        'transactions': [{'data': txs[1].hex(), 'txid': sha256d(txs[1])[::-1].hex()}, {'data': seg_tx.hex()}],
        'rules': ['csv', '!segwit'], 'longpollid': 'lp', 'default_witness_commitment': '6a24aa21a9ed' + '00' * 32}
put('gbt', 'template', json.dumps(tmpl))
put('gbt', 'rpc-envelope', json.dumps({'result': tmpl, 'error': None, 'id': 1}))
crash = bytes(4) + b'\x00\x01\x01' + bytes(36) + bytes.fromhex('ffc8ffffffffffffff')
put('gbt', 'defect-script-length-wraps', json.dumps(dict(tmpl, transactions=[{'data': crash.hex()}])))
put('gbt', 'defect-coinbasevalue-int64-max', json.dumps(dict(tmpl, coinbasevalue=2**63 - 1)))
put('gbt', 'defect-coinbasevalue-negative', json.dumps(dict(tmpl, coinbasevalue=-1)))

# ---- Stratum sessions (ids: 1 configure, 2 subscribe, 3 authorize, 4 extranonce) ----
notify = ('{"id":null,"method":"mining.notify","params":["j1","' + '00' * 32 + '","' + '01' * 40 + '","' +
          '02' * 30 + '",["' + 'aa' * 32 + '"],"20000000","1d00ffff","65000000",true]}')
answers = ('{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000"},"error":null}\n'
           '{"id":2,"result":[[["mining.set_difficulty","d1"],["mining.notify","s1"]],"f000000d",4],"error":null}\n'
           '{"id":3,"result":true,"error":null}\n{"id":4,"result":true,"error":null}\n')
put('stratum', 'session', answers + '{"id":null,"method":"mining.set_difficulty","params":[0.001]}\n' + notify + '\n')
put('stratum', 'defect-notify-before-subscribe-answer', notify + '\n' + answers)
put('stratum', 'defect-new-extranonce-on-reconnect',
    answers + notify + '\n\f' + answers.replace('f000000d', 'a500000e') + notify.replace('"j1"', '"j2"') + '\n')
put('stratum', 'changes', answers + notify + '\n'
    '{"id":null,"method":"mining.set_extranonce","params":["abcdef01",8]}\n'
    '{"id":null,"method":"mining.set_version_mask","params":["00ffe000"]}\n'
    '{"id":5,"result":false,"error":[23,"low difficulty",null]}\n'
    '{"id":9,"method":"client.get_version","params":[]}\n'
    '{"id":null,"method":"client.reconnect","params":["127.0.0.1",3334,0]}\n')

# ---- headers: chain and options byte, height, bits, then real headers ----
hdrs = open(os.path.join(DATA, 'mainnet-headers-822528-830592.bin'), 'rb').read()
put('headers', 'mainnet-12', bytes([0]) + struct.pack('<I', 822528) + struct.pack('<I', 0) + hdrs[:80 * 12])
put('headers', 'retarget', bytes([0]) + struct.pack('<I', 824544 - 3) + struct.pack('<I', 0) +
    hdrs[80 * (824544 - 3 - 822528):80 * (824544 + 3 - 822528)])
bounds = open(os.path.join(DATA, 'mainnet-retarget-boundaries.bin'), 'rb').read()
put('headers', 'boundaries', bytes([1]) + bytes(8) + bounds[:84 * 6])
put('headers', 'defect-extreme-times', bytes([0]) + bytes(8) + struct.pack('<qq', 2**63 - 1, -2**63) + bytes(64))
put('headers', 'defect-testnet-walk-back', bytes([5]) + struct.pack('<I', 1000) + struct.pack('<I', 0x1d00ffff) +
    hdrs[:80 * 3])

# ---- prevouts: a block of BIP143's P2SH-P2WPKH spend and its prevouts ----
p2sh_p2wpkh = bytes.fromhex(
    '01000000000101db6b1b20aa0fd7b23880be2ecbd4a98130974cf4748fb66092ac4d3ceb1a5477010000001716001479091972186c449e'
    'b1ded22b78e40d009bdf0089feffffff02b8b4eb0b000000001976a914a457b684d7f0d539a46a45bbc043f35b59d0d96388ac0008af2f0000'
    '00001976a914fd270b1ee6abcaea97fea7ad0402e8bd8ad6d77c88ac02473044022047ac8e878352d3ebbde1c94ce3a10d057c24175747116'
    'f8288e5d794d12d482f0220217f36a485cae903c713331d877c1f64677e3622ad4010726870540656fe9dcb012103ad1d8e89212f0b92c74d'
    '23bb710c00662ad1470198ac48c43f7d6f93a2a2687392040000')


def txid(tx):
    if tx[4] == 0 and tx[5] == 1:  # without marker, flag and witnesses
        return sha256d(tx[:4] + tx[6:io_end(tx, 6)[1]] + tx[-4:])
    return sha256d(tx)


def prevouts_case(name, spend_tx, spk, sats):
    blk = block[:80] + b'\x02' + txs[0] + spend_tx
    doc = {'tx': [{'txid': txid(txs[0])[::-1].hex(), 'vin': [{'coinbase': '03', 'sequence': 4294967295}]},
                  {'txid': txid(spend_tx)[::-1].hex(),
                   'vin': [{'txid': spend_tx[7:39][::-1].hex(), 'vout': struct.unpack('<I', spend_tx[39:43])[0],
                            'prevout': {'generated': False, 'height': 1, 'value': sats / 1e8,
                                        'scriptPubKey': {'hex': spk}}}]}]}
    put('prevouts', name, struct.pack('<I', len(blk)) + blk + json.dumps(doc).encode())


prevouts_case('p2sh-p2wpkh', p2sh_p2wpkh, 'a9144733f37cf4db86fbc2efed2500b4f4e49f31202387', 1000000000)
# The same spend with its redeem script behind OP_PUSHDATA1 (was accepted).
i = p2sh_p2wpkh.index(bytes.fromhex('1716'))
malleated = p2sh_p2wpkh[:i] + bytes.fromhex('184c16') + p2sh_p2wpkh[i + 2:]
prevouts_case('defect-p2sh-p2wpkh-pushdata1', malleated, 'a9144733f37cf4db86fbc2efed2500b4f4e49f31202387', 1000000000)

# ---- addresses (BIP173, BIP350, Base58Check) ----
for k, a in enumerate(['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4',
                       'bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y',
                       'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080',
                       'tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7',
                       '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy',
                       'mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn']):
    put('address', f'a{k}', a)

# ---- verify-sigs lines ----
with open(os.path.join(DATA, 'bip340-test-vectors.csv')) as f:
    rows = [l.strip().split(',') for l in f.readlines()[1:]]
lines = [json.dumps({'type': 'schnorr', 'pubkey': r[2], 'msg': r[4], 'sig': r[5]}) for r in rows[:5]]
put('verify_sigs', 'schnorr', '\n'.join(lines) + '\n')
ecdsa = ('{"type":"ecdsa","pubkey":"0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",'
         '"msg32":"' + '11' * 32 + '","sig":"3006020101020101"}')
put('verify_sigs', 'ecdsa', ecdsa + '\n\n' + ecdsa + '\n')
put('verify_sigs', 'defect-nul-in-long-line', b'{"type":\x00' + b'x' * 70000 + b'\n' + ecdsa.encode() + b'\n')

# ---- config ----
put('config', 'pools', json.dumps({'pools': [{'url': 'stratum+tcp://127.0.0.1:3333', 'user': 'w', 'pass': 'x'}],
                                   'threads': 2, 'api-listen': '127.0.0.1:4048', 'no-extranonce': True}))
put('config', 'solo', json.dumps({'node': 'http://127.0.0.1:8332', 'address': 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4',
                                  'rpc-user': 'u', 'rpc-password': 'p', 'blocks': 3, 'gbt-refresh': 10}))
put('config', 'many-numbers', json.dumps({k: 1 for k in ['threads', 'log', 'duration', 'failback', 'max-rejects']}))

# ---- engines: valid signatures (made here in pure Python) and mutations ----
P_ = 2**256 - 2**32 - 977
N_ = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G_ = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
      0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def pt_add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P_ == 0:
        return None
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, P_) % P_
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P_) % P_
    x = (lam * lam - a[0] - b[0]) % P_
    return (x, (lam * (a[0] - x) - a[1]) % P_)


def pt_mul(k, pt):
    r = None
    while k:
        if k & 1:
            r = pt_add(r, pt)
        pt = pt_add(pt, pt)
        k >>= 1
    return r


def der_int(v):
    b = v.to_bytes(32, 'big').lstrip(b'\0') or b'\0'
    if b[0] & 0x80:
        b = b'\0' + b
    return b'\x02' + bytes([len(b)]) + b


def tagged(tag, data):
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + data).digest()


batch_checks = []
for i in range(6):
    d = int.from_bytes(hashlib.sha256(b'powkit key %d' % i).digest(), 'big') % N_
    z = hashlib.sha256(b'powkit msg %d' % i).digest()
    k = int.from_bytes(hashlib.sha256(b'powkit nonce %d' % i).digest(), 'big') % N_
    pub = pt_mul(d, G_)
    r = pt_mul(k, G_)[0] % N_
    s = pow(k, -1, N_) * (int.from_bytes(z, 'big') + r * d) % N_
    if i % 2:
        s = N_ - s  # high S: consensus takes it
    sig = der_int(r) + der_int(s)
    sig = b'\x30' + bytes([len(sig)]) + sig
    key = (b'\x02' if pub[1] % 2 == 0 else b'\x03') + pub[0].to_bytes(32, 'big') if i < 3 else \
        b'\x04' + pub[0].to_bytes(32, 'big') + pub[1].to_bytes(32, 'big')
    put('engines', f'ecdsa-{i}', b'\x00' + key + bytes([len(sig)]) + sig + z)
    # BIP340: even-y key, deterministic nonce (not the BIP's, any k will do for a valid signature)
    dd = d if pub[1] % 2 == 0 else N_ - d
    kk = k
    R = pt_mul(kk, G_)
    if R[1] % 2:
        kk = N_ - kk
        R = pt_mul(kk, G_)
    e = int.from_bytes(tagged('BIP0340/challenge', R[0].to_bytes(32, 'big') + pub[0].to_bytes(32, 'big') + z),
                       'big') % N_
    sig = R[0].to_bytes(32, 'big') + ((kk + e * dd) % N_).to_bytes(32, 'big')
    put('engines', f'schnorr-{i}', b'\x01' + pub[0].to_bytes(32, 'big') + sig + z)
    batch_checks.append(bytes([32]) + pub[0].to_bytes(32, 'big') + sig + z)

# ---- batch: runs of valid BIP340 checks, and one broken among them ----
put('batch', 'valid-6', bytes([40]) + b''.join(batch_checks))
put('batch', 'valid-1', bytes([0]) + batch_checks[0])
broken = bytearray(batch_checks[2])
broken[60] ^= 1
put('batch', 'one-broken', bytes([17]) + batch_checks[0] + batch_checks[1] + bytes(broken) + batch_checks[3])
