// A bcoin regtest node for powkit's tests: in memory, loopback only,
// RPC on the port given (argv[2]) with API key argv[3].  Prints "ready"
// on stdout when it answers, and stops on SIGTERM or when stdin closes.
'use strict';
const bcoin = require('bcoin');

const port = Number(process.argv[2] || 48443);
const apiKey = process.argv[3] || 'powkit-test';

const node = new bcoin.FullNode({
  network: 'regtest',
  memory: true,
  workers: false,
  listen: false,
  selfish: true,
  logLevel: 'error',
  httpHost: '127.0.0.1',
  httpPort: port,
  apiKey: apiKey,
  coinCache: 0,
});

async function main() {
  await node.open();
  // An address in bcoin's own regtest format, for generatetoaddress.
  const addr = bcoin.Address.fromProgram(0, Buffer.alloc(20, 7)).toString('regtest');
  process.stdout.write(`ready ${addr}\n`);
}

async function stop() {
  try {
    await node.close();
  } finally {
    process.exit(0);
  }
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
main().catch((e) => {
  process.stderr.write(`regtest node failed: ${e.stack}\n`);
  process.exit(1);
});
