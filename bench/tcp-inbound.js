// Inbound TCP: connections per second and server CPU per connection of a bare net.Server
// echo vs the same echo under `mesh.listenTcp` (PeerAuthentication, the connection's
// AuthorizationPolicy decision, istio_tcp_* and the access log machinery), each connection
// a connect, one line echoed, and a close. Server pinned to CPU 0, the load to CPU 1;
// configurations measured in interleaved rounds, medians reported. Writes
// bench/results/tcp-inbound-node<major>.md for the node that runs it.
//   node bench/tcp-inbound.js [--duration 8] [--rounds 3] [--concurrency 20]
// Needs taskset (`util-linux`) and two cores for pinning; not run in CI.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arg, median } from './support.js';
import { cpuSeconds, LOAD_CPU, pinned, PINNED, startServer } from './load.js';

const here = import.meta.dirname;
const DURATION = arg('duration', 8);
const ROUNDS = arg('rounds', 3);
const CONCURRENCY = arg('concurrency', 20);
const WARMUP = 2;
const CONFIGS = {
  bare: 'bare `net.createServer` line echo (reference)',
  mesh: '`mesh.listenTcp`, PERMISSIVE plaintext, no AuthorizationPolicy, Istio metrics',
  'mesh-authz': '`mesh.listenTcp` with ten ALLOW AuthorizationPolicies (the last admits), Istio metrics',
};

/** Runs the load against `port`; samples the server's CPU at the window's start and end. */
function load(port, server) {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = pinned(LOAD_CPU, process.execPath, [
      path.join(here, 'tcp-inbound-client.js'),
      String(port),
      String(DURATION),
      String(CONCURRENCY),
      String(WARMUP),
    ]);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let cpu0 = 0;
    let t0 = 0;
    child.stdout.on('data', (d) => {
      out += d;
      if (cpu0 === 0 && out.includes('start')) {
        cpu0 = cpuSeconds(server.pid);
        t0 = performance.now();
      }
      const m = /done (\d+)/.exec(out);
      if (m && t0 > 0) {
        const cpu = cpuSeconds(server.pid) - cpu0;
        const seconds = (performance.now() - t0) / 1000;
        resolve({
          connections: Number(m[1]),
          perSecond: Number(m[1]) / seconds,
          cpuUs: (cpu * 1e6) / Number(m[1]),
        });
        t0 = -1;
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`load exited with ${code}`));
    });
  });
}

const results = Object.fromEntries(Object.keys(CONFIGS).map((c) => [c, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const config of Object.keys(CONFIGS)) {
    const { child, port } = await startServer(path.join(here, 'tcp-inbound-server.js'), config);
    child.removeAllListeners('exit');
    try {
      const r = await load(port, child);
      results[config].push(r);
      console.log(
        `round ${round + 1} ${config}: ${r.perSecond.toFixed(0)} conn/s, ${r.cpuUs.toFixed(1)} µs CPU/conn`,
      );
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
}

const med = (config, key) => median(results[config].map((r) => r[key]));
const bareCpu = med('bare', 'cpuUs');
const rows = Object.entries(CONFIGS).map(([config, what]) => {
  const rs = results[config];
  const cpu = med(config, 'cpuUs');
  return `| ${config} | ${what} | ${rs.map((r) => r.perSecond.toFixed(0)).join(' / ')} | ${med(config, 'perSecond').toFixed(0)} | ${rs.map((r) => r.cpuUs.toFixed(1)).join(' / ')} | ${cpu.toFixed(1)} | ${(cpu / bareCpu).toFixed(2)}× |`;
});
const bareRounds = results.bare.map((r) => r.cpuUs);
const spread = Math.max(...bareRounds) - Math.min(...bareRounds);
const major = process.versions.node.split('.')[0];
const [l1, l5, l15] = os.loadavg();
const md = `# Inbound TCP: \`mesh.listenTcp\` vs a bare net.Server (Node ${major})

\`node bench/tcp-inbound.js --duration ${DURATION} --rounds ${ROUNDS} --concurrency ${CONCURRENCY}\`: each
configuration's server runs in its own child process${PINNED ? ' pinned to CPU 0' : ''}; the load${PINNED ? ', pinned to CPU 1,' : ''} keeps
${CONCURRENCY} connections going, each a connect, one 5-byte line echoed and a close, for ${DURATION} s after
a ${WARMUP} s warm-up; the configurations are measured in interleaved rounds in one run and compared by
their median server CPU per connection (user + system time from /proc over the timed window).

- Machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} vCPU, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type().toLowerCase()} ${os.release()}
- Node ${process.version}; load average at the end: ${l1.toFixed(1)} / ${l5.toFixed(1)} / ${l15.toFixed(1)}.
- No target in DESIGN.md; the figure a team wants is what the mesh adds per connection, where a
  sidecar adds a proxy hop (two more socket pairs, a second process) to every connection.

| configuration | what | connections/s per round | median connections/s | server CPU µs/connection per round | median server CPU µs/connection | vs bare |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

The mesh adds ${(med('mesh', 'cpuUs') - bareCpu).toFixed(1)} µs of server CPU per connection without policies
and ${(med('mesh-authz', 'cpuUs') - bareCpu).toFixed(1)} µs with ten (medians; the bare rounds alone spread over
${spread.toFixed(1)} µs on this shared host, so a difference smaller than that is noise). After the accept the
application's bytes flow on the accepted socket itself, with no copy and no second process. Connections
are plaintext here (PERMISSIVE), so no row pays for TLS.
`;
writeFileSync(path.join(here, 'results', `tcp-inbound-node${major}.md`), md);
console.log(md);
