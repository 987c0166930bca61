// The command line and start-up line shared by the Node peers, so that the
// comparison starts and finds them exactly as it does the Go servers: an
// optional -addr HOST:PORT (default 127.0.0.1:0, a free port), then
// "listening on HOST:PORT" on stdout once connections are accepted.

// listenAddress returns the host and port of -addr (or --addr), given as
// "-addr HOST:PORT" or "-addr=HOST:PORT".
export function listenAddress(argv) {
  let addr = '127.0.0.1:0';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-addr' || a === '--addr') {
      addr = argv[++i] ?? '';
    } else if (a.startsWith('-addr=') || a.startsWith('--addr=')) {
      addr = a.slice(a.indexOf('=') + 1);
    } else {
      usage(`unknown argument ${a}`);
    }
  }
  const colon = addr.lastIndexOf(':');
  const port = Number(addr.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) usage(`bad -addr ${addr}`);
  return { host: addr.slice(0, colon) || '127.0.0.1', port };
}

function usage(problem) {
  process.stderr.write(`${problem}\nusage: node ${process.argv[1]} [-addr HOST:PORT]\n`);
  process.exit(2);
}

// announce prints the line the comparison waits for.
export function announce(server) {
  const { address, port } = server.address();
  process.stdout.write(`listening on ${address}:${port}\n`);
}

// exitOnSignal ends the process at once on SIGINT or SIGTERM: a benchmark
// server has no state worth draining.
export function exitOnSignal() {
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
}
