// Outbound benchmarks (issue #3):
//  (a) pipeline overhead: `transport.request` on the in-memory transport vs `mesh.fetch`
//      over the same transport through a route with retries, a timeout, a connection
//      pool and outlier detection configured; per-call mean / p50 / p99, interleaved rounds.
//  (b) loopback HTTP: bare got, bare undici, mesh.fetch over got and over undici against
//      one keep-alive node:http server in a child process, same concurrency, one run.
// Build core first (`npx tsc -b`), then:
//   node bench/outbound.js [--iterations 100000] [--rounds 5] [--seconds 3] [--concurrency 16]
// Writes bench/results/outbound-node<major>.md for the node that runs it.
import { fork } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { got } from 'got';
import { Pool } from 'undici';
import { arg, drain, median, PRODUCTPAGE, quantile, REVIEWS_ROUTE_YAML } from './support.js';

const here = import.meta.dirname;
const dist = (p) => import(path.join(here, '../packages/core/dist', p));
const { createMesh } = await dist('mesh/create-mesh.js');
const { createMemoryTransport } = await dist('outbound/transports/memory-transport.js');
const { createGotTransport } = await dist('outbound/transports/got-transport.js');
const { createUndiciTransport } = await dist('outbound/transports/undici-transport.js');

const ITERATIONS = arg('iterations', 100_000);
const ROUNDS = arg('rounds', 5);
const SECONDS = arg('seconds', 3);
const CONCURRENCY = arg('concurrency', 16);

const WORKLOAD = PRODUCTPAGE;

const CONFIG = REVIEWS_ROUTE_YAML;

function configDir() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshlet-bench-'));
  writeFileSync(path.join(dir, 'reviews.yaml'), CONFIG);
  return dir;
}

const fmt = (ns) => (ns / 1000).toFixed(2);

// ---------------------------------------------------------------- (a) overhead
async function overhead() {
  const reply = { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
  const transport = createMemoryTransport({ '10.0.0.1:9080': () => reply });
  const dir = configDir();
  const mesh = await createMesh({
    config: dir,
    workload: WORKLOAD,
    endpoints: { reviews: [{ address: '10.0.0.1', port: 9080, labels: { app: 'reviews', version: 'v1' } }] },
    transport,
  });
  const req = {
    url: new URL('http://10.0.0.1:9080/reviews/0'),
    method: 'GET',
    headers: { host: 'reviews:9080' },
    body: null,
    signal: null,
    connectTimeoutMs: 10_000,
    tls: null,
    poolKey: 'outbound|9080|v1|reviews.default.svc.cluster.local|10.0.0.1:9080',
    pool: { maxConnections: 1000, maxRequestsPerConnection: 0, idleTimeoutMs: 3_600_000 },
  };
  const bare = async () => {
    const res = await transport.request(req);
    await drain(res.body);
    return res.status;
  };
  const viaMesh = async () => {
    const res = await mesh.fetch('http://reviews:9080/reviews/0');
    await res.text();
    return res.status;
  };
  const check = await mesh.fetch('http://reviews:9080/reviews/0');
  if (check.status !== 200 || check.meshlet.upstream?.subset !== 'v1')
    throw new Error('bench route is not taken');
  await check.text();

  const run = async (fn, n) => {
    const t = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const s = process.hrtime.bigint();
      await fn();
      t[i] = Number(process.hrtime.bigint() - s);
    }
    return t;
  };
  await run(bare, 20_000);
  await run(viaMesh, 20_000);
  const all = { bare: [], mesh: [] };
  for (let r = 0; r < ROUNDS; r++) {
    all.bare.push(await run(bare, ITERATIONS));
    all.mesh.push(await run(viaMesh, ITERATIONS));
  }
  await mesh.close();
  await transport.close();
  rmSync(dir, { recursive: true, force: true });
  const stats = (arrays) => {
    const merged = Float64Array.from(arrays.flatMap((a) => Array.from(a))).sort();
    const mean = merged.reduce((s, x) => s + x, 0) / merged.length;
    return { mean, p50: quantile(merged, 0.5), p99: quantile(merged, 0.99), n: merged.length };
  };
  return { bare: stats(all.bare), mesh: stats(all.mesh) };
}

// ---------------------------------------------------------------- (b) loopback
async function loopback() {
  const child = fork(path.join(here, 'outbound-server.js'), [], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const port = await new Promise((resolve) =>
    child.stdout.once('data', (d) => resolve(Number(String(d).trim()))),
  );
  const origin = `http://127.0.0.1:${port}`;
  const dir = configDir();
  const endpoints = { reviews: [{ address: '127.0.0.1', port, labels: { app: 'reviews', version: 'v1' } }] };
  const meshGot = await createMesh({ config: dir, workload: WORKLOAD, endpoints, transport: 'got' });
  const meshUndici = await createMesh({ config: dir, workload: WORKLOAD, endpoints, transport: 'undici' });
  const bareGot = got.extend({
    retry: { limit: 0 },
    agent: { http: new (await import('node:http')).Agent({ keepAlive: true, maxSockets: CONCURRENCY }) },
  });
  const pool = new Pool(origin, { connections: CONCURRENCY, pipelining: 1 });
  // The transports alone (what mesh.fetch calls per attempt), to split transport cost from pipeline cost.
  const undiciT = createUndiciTransport();
  const gotT = createGotTransport();
  const treq = {
    url: new URL(`${origin}/reviews/0`),
    method: 'GET',
    headers: { host: 'reviews:9080' },
    body: null,
    signal: null,
    connectTimeoutMs: 10_000,
    tls: null,
    poolKey: `outbound|9080|v1|reviews.default.svc.cluster.local|127.0.0.1:${port}`,
    pool: { maxConnections: 1000, maxRequestsPerConnection: 0, idleTimeoutMs: 3_600_000 },
  };

  const clients = {
    'bare undici (Pool.request)': async () => {
      const r = await pool.request({ path: '/reviews/0', method: 'GET', headers: { host: 'reviews:9080' } });
      await r.body.text();
    },
    'bare got': async () => {
      await bareGot(`${origin}/reviews/0`, { headers: { host: 'reviews:9080' } }).text();
    },
    'undici transport (Transport.request)': async () => {
      await drain((await undiciT.request(treq)).body);
    },
    'got transport (Transport.request)': async () => {
      await drain((await gotT.request(treq)).body);
    },
    'mesh.fetch, undici transport': async () => {
      await (await meshUndici.fetch('http://reviews:9080/reviews/0')).text();
    },
    'mesh.fetch, got transport (default)': async () => {
      await (await meshGot.fetch('http://reviews:9080/reviews/0')).text();
    },
  };
  const measure = async (fn, seconds) => {
    let count = 0;
    const end = performance.now() + seconds * 1000;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < end) {
          await fn();
          count++;
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { rps: count / elapsed, cpuUsPerReq: (cpu.user + cpu.system) / count };
  };
  for (const fn of Object.values(clients)) await measure(fn, 0.5); // warm-up
  const results = Object.fromEntries(Object.keys(clients).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(clients)) results[name].push(await measure(fn, SECONDS));
  }
  await meshGot.close();
  await meshUndici.close();
  await pool.close();
  await undiciT.close();
  await gotT.close();
  child.send('stop');
  rmSync(dir, { recursive: true, force: true });
  return Object.fromEntries(
    Object.entries(results).map(([k, v]) => [
      k,
      { rps: median(v.map((x) => x.rps)), cpu: median(v.map((x) => x.cpuUsPerReq)) },
    ]),
  );
}

const a = await overhead();
const b = await loopback();

const cpu = os.cpus();
const lines = [];
lines.push(`# Outbound benchmarks (Node ${process.versions.node.split('.')[0]})`);
lines.push('');
lines.push(`- Date: ${new Date().toISOString().slice(0, 10)}`);
lines.push(
  `- Machine: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} logical CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}`,
);
lines.push(`- Node ${process.version}`);
lines.push(
  `- Command: \`npx tsc -b && node bench/outbound.js --iterations ${ITERATIONS} --rounds ${ROUNDS} --seconds ${SECONDS} --concurrency ${CONCURRENCY}\` (\`npm run bench:outbound -w bench\`)`,
);
lines.push('');
lines.push('## (a) Pipeline overhead over the bare transport (in-memory transport, no sockets)');
lines.push('');
lines.push(
  `Sequential calls, ${ROUNDS} interleaved rounds of ${ITERATIONS} each (after 20,000 warm-up calls per side); each call includes reading the body. The mesh route has a header match, a 10s route timeout, 3 retries with a 2s perTryTimeout, a connection pool and outlier detection.`,
);
lines.push('');
lines.push('| path | mean µs/call | p50 µs | p99 µs |');
lines.push('|---|---:|---:|---:|');
lines.push(
  `| \`transport.request\` (bare) | ${fmt(a.bare.mean)} | ${fmt(a.bare.p50)} | ${fmt(a.bare.p99)} |`,
);
lines.push(`| \`mesh.fetch\` | ${fmt(a.mesh.mean)} | ${fmt(a.mesh.p50)} | ${fmt(a.mesh.p99)} |`);
lines.push(
  `| **difference (pipeline overhead)** | **${fmt(a.mesh.mean - a.bare.mean)}** | **${fmt(a.mesh.p50 - a.bare.p50)}** | ${fmt(a.mesh.p99 - a.bare.p99)} |`,
);
lines.push('');
lines.push(
  `Target (DESIGN.md): ≤ 5 µs per call. Measured mean overhead: ${fmt(a.mesh.mean - a.bare.mean)} µs — ${a.mesh.mean - a.bare.mean <= 5000 ? 'within' : 'over'} target.`,
);
lines.push('');
lines.push('## (b) Loopback HTTP: mesh.fetch vs bare got vs bare undici');
lines.push('');
lines.push(
  `One keep-alive \`node:http\` server in a child process; ${CONCURRENCY} concurrent callers for ${SECONDS}s per client, ${ROUNDS} interleaved rounds, median shown; client CPU (user+system) per request from \`process.cpuUsage\`.`,
);
lines.push('');
const base = b['bare undici (Pool.request)'];
const gotBase = b['bare got'];
lines.push('| client | req/s | vs bare undici | vs bare got | client CPU µs/req |');
lines.push('|---|---:|---:|---:|---:|');
for (const [name, r] of Object.entries(b)) {
  lines.push(
    `| ${name} | ${r.rps.toFixed(0)} | ${(r.rps / base.rps).toFixed(2)} | ${(r.rps / gotBase.rps).toFixed(2)} | ${r.cpu.toFixed(1)} |`,
  );
}
lines.push('');
const md = lines.join('\n') + '\n';
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', `outbound-node${process.versions.node.split('.')[0]}.md`), md);
process.stdout.write(md);
