// Inbound throughput: bare Fastify vs Fastify + @meshlet/fastify (authz + metrics; + JWT;
// and authz with telemetry off), each server in its own child process, measured in
// interleaved rounds so every configuration sees the same machine state, for two app shapes:
// a one-route hello world and a service with four routes. Writes
// bench/results/inbound-fastify-node<major>.md for the node that runs it (the servers run on
// process.execPath, so `/path/to/node24 bench/inbound-fastify.js` measures Node 24).
//   node bench/inbound-fastify.js [--duration 5] [--rounds 5] [--connections 50]
// With wrk and taskset (Debian `wrk`, `util-linux`) the server runs on CPU 0 and wrk on CPU 1;
// without them autocannon shares the cores with the server (noisier; said in the output).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { cpuSeconds, PINNED, runWrk, SERVER_CPU, startServer } from './load.js';
import { arg, JWT_SAMPLE, median } from './support.js';

const here = import.meta.dirname;
const DURATION = arg('duration', 5);
const ROUNDS = arg('rounds', 5);
const CONNECTIONS = arg('connections', 50);
const { jwks: JWKS, token: TOKEN } = JWT_SAMPLE;

/**
 * [name, server mode, extra env, sends the token, the bare row it is compared with]. The JWT
 * row is compared with bare Fastify receiving the same request, token header included: a
 * service behind a sidecar receives it too, and parsing its ~1 KB is not the mesh's cost.
 */
const CONFIGS = [
  ['bare', 'bare', {}, false, 'bare'],
  ['bare, same token sent', 'bare', {}, true, 'bare'],
  ['authz', 'authz', {}, false, 'bare'],
  ['authz-jwt', 'authz-jwt', {}, true, 'bare, same token sent'],
  ['authz, requestContext: false', 'authz', { MESHLET_BENCH_CONTEXT: 'off' }, false, 'bare'],
  ['authz, telemetry off', 'authz', { MESHLET_BENCH_TELEMETRY: 'off' }, false, 'bare'],
  // Floors: what any in-process mesh pays in Fastify before doing anything.
  ['floor: one no-op onRequest hook', 'floor-hook', {}, false, 'bare'],
  ['floor: hook + AsyncLocalStorage.run', 'floor-als', {}, false, 'bare'],
];
const SHAPES = [
  ['one route', 'one'],
  ['service (4 routes)', 'service'],
];

const start = (mode, env) =>
  startServer(path.join(here, 'inbound-fastify-server.js'), mode, {
    env: { ...env, MESHLET_BENCH_JWKS: JWKS },
  });

async function load(port, token, duration) {
  const headers = token ? { authorization: `Bearer ${TOKEN}` } : {};
  const url = `http://127.0.0.1:${port}/hello`;
  if (PINNED) {
    const r = await runWrk(url, { duration, connections: CONNECTIONS, headers });
    return { rps: r.rps, total: r.requests, bad: r.non2xx };
  }
  const r = await autocannon({ url, connections: CONNECTIONS, duration, headers });
  return { rps: r.requests.average, total: r.requests.total, bad: r.non2xx + r.errors };
}

const key = (shape, name) => `${shape}|${name}`;
const rps = {};
const cpuPerReq = {};
const bad = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [, shape] of SHAPES) {
    for (const [name, mode, env, token] of CONFIGS) {
      const k = key(shape, name);
      const server = await start(mode, { ...env, MESHLET_BENCH_ROUTES: shape });
      await load(server.port, token, 2); // warm-up: JIT, and the JWT verification cache
      const cpu0 = cpuSeconds(server.child.pid);
      const r = await load(server.port, token, DURATION);
      const cpu1 = cpuSeconds(server.child.pid);
      (rps[k] ??= []).push(r.rps);
      (cpuPerReq[k] ??= []).push(((cpu1 - cpu0) * 1e6) / Math.max(1, r.total));
      bad[k] = (bad[k] ?? 0) + r.bad;
      server.child.kill('SIGINT');
      await new Promise((res) => server.child.once('exit', res));
      console.log(
        `round ${round + 1} ${shape} ${name}: ${Math.round(r.rps)} req/s, server CPU ${cpuPerReq[k].at(-1).toFixed(1)} µs/req`,
      );
    }
  }
}

const rows = [];
for (const [label, shape] of SHAPES) {
  for (const [name, , , , baseline] of CONFIGS) {
    const k = key(shape, name);
    const bareCpu = median(cpuPerReq[key(shape, baseline)]);
    const bareRps = median(rps[key(shape, baseline)]);
    const cpu = median(cpuPerReq[k]);
    rows.push(
      `| ${label} | ${name} | ${cpuPerReq[k].map((x) => x.toFixed(1)).join(' / ')} | ${cpu.toFixed(1)} | ${((bareCpu / cpu) * 100).toFixed(0)}% | ${Math.round(median(rps[k]))} | ${((median(rps[k]) / bareRps) * 100).toFixed(0)}% | ${bad[k]} |`,
    );
  }
}
const telemetryShare = SHAPES.map(([label, shape]) => {
  const on = median(cpuPerReq[key(shape, 'authz')]);
  const off = median(cpuPerReq[key(shape, 'authz, telemetry off')]);
  return `${label}: ${(on - off).toFixed(1)} µs per request, ${(((on - off) / on) * 100).toFixed(0)}% of the mesh's request (${((off / on) * 100).toFixed(0)}% of telemetry-off throughput kept)`;
});
const floors = SHAPES.map(([label, shape]) => {
  const bareCpu = median(cpuPerReq[key(shape, 'bare')]);
  const hook = median(cpuPerReq[key(shape, 'floor: one no-op onRequest hook')]);
  const als = median(cpuPerReq[key(shape, 'floor: hook + AsyncLocalStorage.run')]);
  const mesh = median(cpuPerReq[key(shape, 'authz')]);
  return `${label}: the hook costs ${(hook - bareCpu).toFixed(1)} µs and the hook with the context ${(als - bareCpu).toFixed(1)} µs (${((bareCpu / als) * 100).toFixed(0)}% of bare kept, before any mesh work); 90% of bare leaves ${(bareCpu / 0.9 - bareCpu).toFixed(1)} µs per request for everything the mesh adds, which spends ${(mesh - bareCpu).toFixed(1)} µs`;
});
const cpu = os.cpus()[0]?.model ?? 'unknown';
const NODE_MAJOR = process.versions.node.split('.')[0];
const md = `# Inbound throughput: bare Fastify vs Fastify + @meshlet/fastify (Node ${NODE_MAJOR})

\`node bench/inbound-fastify.js --duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}\`: each server runs in its own
child process${PINNED ? ` pinned to CPU ${SERVER_CPU}, with \`wrk -t1 -c${CONNECTIONS}\` pinned to the other core` : ', with autocannon on the same cores (wrk or taskset missing)'};
${DURATION} s of \`GET /hello\` after a 2 s warm-up; every configuration is measured once per round, in
${ROUNDS} interleaved rounds, and compared by its median.

- Machine: ${cpu}, ${os.cpus().length} vCPU, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}
- Node ${process.version}; load average at the end: ${os
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(' / ')}.
- Targets (DESIGN.md): authz + metrics ≥ 90 % of bare; + JWT (cached verification) ≥ 80 %.
  Issue #5: metrics + sampled-out tracing cost under 10 % of the inbound pipeline.

| app | configuration | server CPU µs/req per round | median | requests per CPU-second, of bare | median req/s | req/s, of bare | non-2xx |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

"Of bare" compares with \`bare\`, except \`authz-jwt\`, which is compared with \`bare, same token sent\`
(bare Fastify receiving the same requests, Authorization header included).
The capacity figure is the fifth column: bare's server CPU per request over this configuration's,
both from the server process's own CPU time (/proc), so it does not depend on how the load
generator shared the machine. Telemetry (the \`authz\` row against \`authz, telemetry off\`):
${telemetryShare.map((t) => `- ${t}`).join('\n')}

The two \`floor\` rows are bare Fastify plus the least any in-process mesh must add: a no-op
\`onRequest\` hook (a plugin that decides before the handler), and that hook running the request
in an \`AsyncLocalStorage\` context (what lets a handler's outbound calls continue its trace with
no code, which issue #5 asks for):
${floors.map((t) => `- ${t}.`).join('\n')}

Configurations: \`bare\` is Fastify alone; \`authz\` is \`createMesh\` + \`@meshlet/fastify\` on
\`mesh.serverFactory\` from the built packages with ten AuthorizationPolicies (five DENY with a
header condition, five ALLOW; the request passes every DENY and matches the last ALLOW), Istio's
request metrics for every request, traces at Istio's 1 % default with no exporter, no access log;
\`authz-jwt\` adds a RequestAuthentication and a \`requestPrincipals\` condition, with Istio's
sample token on every request (verification cached); \`requestContext: false\` is \`authz\` with
\`createMesh({ telemetry: { requestContext: false } })\` (metrics, spans and logs as before, no
async-local request context for \`mesh.fetch\` to continue); \`telemetry off\` is \`authz\` with
\`createMesh({ telemetry: false })\`. App shapes: \`one route\` is a hello world with only
\`GET /hello\`; \`service\` adds \`GET /healthz\`, \`GET /items/:id\` and \`POST /items\` (requests still
hit \`/hello\`). The second shape is there because bare Fastify with one route can be a V8 best case
on Node 20 (an earlier session measured ~5 µs per request more with a second route: object literals
in node's \`process.nextTick\` falling to V8's runtime, seen with \`perf\`); in this run the two bare
rows differ by ${(median(cpuPerReq[key('service', 'bare')]) - median(cpuPerReq[key('one', 'bare')])).toFixed(1)} µs.
`;
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', `inbound-fastify-node${NODE_MAJOR}.md`), md);
console.log(md);
