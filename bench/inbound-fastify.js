// Inbound throughput: bare Fastify vs Fastify + @meshlet/fastify (authz; then + JWT),
// each server in its own child process, measured with autocannon in interleaved rounds
// so every configuration sees the same machine state. Writes bench/results/inbound-fastify.md.
//   node bench/inbound-fastify.js [--duration 10] [--rounds 3] [--connections 50]
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { arg } from './support.js';

const here = import.meta.dirname;
const DURATION = arg('duration', 10);
const ROUNDS = arg('rounds', 3);
const CONNECTIONS = arg('connections', 50);
const SAMPLES = path.resolve(here, '../../shared/istio-samples/jwt');
const JWKS = readFileSync(path.join(SAMPLES, 'jwks.json'), 'utf8').replace(/\s+/g, ' ').trim();
const TOKEN = readFileSync(path.join(SAMPLES, 'demo.jwt'), 'utf8').trim();
const MODES = ['bare', 'authz', 'authz-jwt'];

function start(mode) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'inbound-fastify-server.js'), mode], {
      env: { ...process.env, MESHLET_BENCH_JWKS: JWKS, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), engine: mode === 'bare' ? 'none' : 'createMesh' });
    });
    child.on('error', reject);
    child.on('exit', (code) => code !== 0 && reject(new Error(`${mode} server exited with ${code}`)));
  });
}

function load(port, mode, duration) {
  const headers = mode === 'authz-jwt' ? { authorization: `Bearer ${TOKEN}` } : {};
  return autocannon({ url: `http://127.0.0.1:${port}/hello`, connections: CONNECTIONS, duration, headers });
}

// Server CPU time (user + system) from /proc: on a 2-core machine the load generator competes
// with the server, so req/s alone understates the cheaper server; CPU per request does not.
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

const rps = Object.fromEntries(MODES.map((m) => [m, []]));
const cpuPerReq = Object.fromEntries(MODES.map((m) => [m, []]));
const engines = {};
const statuses = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) {
    const server = await start(mode);
    if (server === null) continue;
    engines[mode] = server.engine;
    await load(server.port, mode, 2); // warm-up: JIT, and the JWT verification cache
    const cpu0 = cpuSeconds(server.child.pid);
    const r = await load(server.port, mode, DURATION);
    const cpu1 = cpuSeconds(server.child.pid);
    rps[mode].push(r.requests.average);
    cpuPerReq[mode].push(((cpu1 - cpu0) * 1e6) / Math.max(1, r.requests.total));
    statuses[mode] = { '2xx': r['2xx'], non2xx: r.non2xx, errors: r.errors };
    server.child.kill();
    await new Promise((res) => server.child.once('exit', res));
    console.log(
      `round ${round + 1} ${mode}: ${Math.round(r.requests.average)} req/s, server CPU ${cpuPerReq[mode].at(-1).toFixed(1)} µs/req (${server.engine})`,
    );
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const bare = median(rps.bare);
const cpu = os.cpus()[0]?.model ?? 'unknown';
const bareCpu = median(cpuPerReq.bare);
const rows = MODES.filter((m) => rps[m].length > 0).map((m) => {
  const med = median(rps[m]);
  const cpu = median(cpuPerReq[m]);
  return `| ${m} | ${engines[m] ?? 'none'} | ${rps[m].map((x) => Math.round(x)).join(' / ')} | ${Math.round(med)} | ${((med / bare) * 100).toFixed(1)}% | ${cpu.toFixed(1)} | ${((bareCpu / cpu) * 100).toFixed(1)}% |`;
});
const md = `# Inbound throughput: bare Fastify vs Fastify + @meshlet/fastify

\`node bench/inbound-fastify.js --duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}\`: each server runs in its own
child process; autocannon (${CONNECTIONS} connections, ${DURATION} s after a 2 s warm-up) hits \`GET /hello\`; the
configurations are measured in interleaved rounds in one run and compared by their median.

- Machine: ${cpu}, ${os.cpus().length} vCPU, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}
- Node ${process.version}; load generator and server share the machine; load average at the end: ${os
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(' / ')}.
- Targets (DESIGN.md): authz + metrics ≥ 90 % of bare; + JWT (cached verification) ≥ 80 %.

| configuration | engine | req/s per round | median req/s | req/s of bare | server CPU µs/req | requests per CPU-second, of bare |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

The last column is the capacity figure: bare's CPU per request over this configuration's, both
measured from the server process's own CPU time (/proc), so it does not depend on how much CPU
the load generator took from the same two cores.

Responses in the last round: ${MODES.filter((m) => statuses[m])
  .map((m) => `${m}: ${statuses[m]['2xx']} 2xx / ${statuses[m].non2xx} other / ${statuses[m].errors} errors`)
  .join('; ')}.

Engine column: \`createMesh\` = the real mesh from the built packages (\`createMesh\` +
\`@meshlet/fastify\` on \`mesh.serverFactory\`) with ten AuthorizationPolicies (five DENY with a
header condition, five ALLOW; the request passes every DENY and matches the last ALLOW), Istio's
request metrics recorded for every request, traces sampled out (Istio's 1% default), no access log;
\`authz-jwt\` adds a RequestAuthentication and a \`requestPrincipals\` condition, with Istio's sample
token on every request (verification cached).
`;
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', 'inbound-fastify.md'), md);
console.log(md);
