// Proxy hop: Fastify with the full mesh in-process vs the same bare Fastify behind nginx
// (a stand-in for a sidecar) on the same machine. Server side (node, nginx) pinned to CPU 0,
// wrk pinned to CPU 1; configurations measured in interleaved rounds, medians reported; the
// capacity figure is server-side CPU per request from /proc. Writes
// bench/results/proxy-hop-node<major>.md for the node that runs it (the servers run on
// process.execPath, so `/path/to/node24 bench/proxy-hop.js` measures Node 24).
//   node bench/proxy-hop.js [--duration 10] [--rounds 3] [--connections 50]
// Needs wrk and nginx (Debian packages `wrk`, `nginx`) and taskset (`util-linux`); not run in CI.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { arg, median } from './support.js';
import {
  CLK_TCK,
  cpuSeconds,
  LOAD_CPU,
  runWrk,
  SERVER_CPU,
  startServer,
  TASKSET,
  which,
  WRK,
} from './load.js';
import { childPids, prepareNginx } from './proxy-hop-nginx.js';

const here = import.meta.dirname;
const DURATION = arg('duration', 10);
const ROUNDS = arg('rounds', 3);
const CONNECTIONS = arg('connections', 50);
const WARMUP = 2;
const CONFIGS = ['bare', 'mesh', 'nginx-hop'];

const NGINX = which('nginx', ['/usr/sbin']);
for (const [bin, name, pkg] of [
  [WRK, 'wrk', 'wrk'],
  [NGINX, 'nginx', 'nginx'],
  [TASKSET, 'taskset', 'util-linux'],
]) {
  if (bin === null) {
    console.error(
      `proxy-hop: ${name} not found; install the Debian package \`${pkg}\` (apt-get install ${pkg}).`,
    );
    process.exit(1);
  }
}
if (os.cpus().length < 2) {
  console.error('proxy-hop: needs at least 2 CPUs (server on CPU 0, wrk on CPU 1).');
  process.exit(1);
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'meshlet-proxy-hop-'));
const live = new Set();
let stopping = false; // set on SIGINT/SIGTERM: children dying then is not an error to report
const orphans = new Set(); // nginx workers: not our children, so killed by pid on a crash

function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

// A stopped nginx master takes its worker down with it; make sure, then forget the pid.
async function reap(pid) {
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((res) => setTimeout(res, 20));
  if (existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
  orphans.delete(pid);
}

async function cleanup() {
  await Promise.all([...live].map(stop));
  rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    stopping = true;
    void cleanup().finally(() => process.exit(130));
  });
}
// Last resort on any exit (a crash, a closed stdout): no server or wrk outlives this script.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const pid of orphans) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone with its master.
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});
process.stdout.on('error', () => {}); // `| head` closing the pipe must not abort the run

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const startNode = (mode) =>
  startServer(path.join(here, 'inbound-fastify-server.js'), mode, { pin: true, onSpawn: track });

async function waitForPort(port, child, stderr) {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr()}`);
    const ok = await new Promise((res) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`nginx did not listen on ${port} within 5 s: ${stderr()}`);
}

async function startNginx(upstreamPort) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmp, 'nginx-'));
  const args = prepareNginx(dir, port, upstreamPort);
  // taskset execs nginx, so the child's pid is the nginx master's.
  const child = track(
    spawn(TASKSET, ['-c', String(SERVER_CPU), NGINX, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const log = path.join(dir, 'error.log');
  await waitForPort(port, child, () => err + (existsSync(log) ? readFileSync(log, 'utf8') : ''));
  return { child, port };
}

/** Starts the configuration; returns the port wrk hits and every server-side process. */
async function start(config) {
  const app = await startNode(config === 'mesh' ? 'authz' : 'bare');
  if (config !== 'nginx-hop') return { port: app.port, children: [app.child], pids: () => [app.child.pid] };
  const proxy = await startNginx(app.port);
  // The listening socket is the master's, so it accepts before the worker is forked: wait for it.
  let workers = [];
  for (let i = 0; i < 100 && workers.length === 0; i++) {
    await new Promise((res) => setTimeout(res, 20));
    workers = childPids(proxy.child.pid);
  }
  if (workers.length === 0) throw new Error('no nginx worker found under the master');
  for (const pid of workers) orphans.add(pid);
  return {
    port: proxy.port,
    children: [proxy.child, app.child],
    workers,
    pids: () => [app.child.pid, proxy.child.pid, ...childPids(proxy.child.pid)],
  };
}

const cpuOf = (pids) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);

// Busy seconds of one core from /proc/stat (all but idle and iowait): what the server side did
// not use of it in the window is other work on the machine, reported as a noise figure.
function coreBusySeconds(core) {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `));
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}

const wrk = (port, duration) =>
  runWrk(`http://127.0.0.1:${port}/hello`, { duration, connections: CONNECTIONS, onSpawn: track });

async function sanityCheck(port, config) {
  const res = await fetch(`http://127.0.0.1:${port}/hello`);
  const body = await res.text();
  if (res.status !== 200 || JSON.parse(body).hello !== 'world') {
    throw new Error(`${config}: GET /hello answered ${res.status} ${body}`);
  }
}

const rps = Object.fromEntries(CONFIGS.map((c) => [c, []]));
const cpuPerReq = Object.fromEntries(CONFIGS.map((c) => [c, []]));
const last = {};
const nodeShare = Object.fromEntries(CONFIGS.map((c) => [c, []]));
const foreign = []; // share of CPU 0 used by other processes during each timed window
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const config of CONFIGS) {
      const server = await start(config);
      await sanityCheck(server.port, config);
      await wrk(server.port, WARMUP); // JIT, nginx's upstream keepalive pool
      const pids = server.pids();
      const cpu0 = cpuOf(pids);
      const node0 = cpuSeconds(pids[0]); // pids[0] is always the Fastify process
      const busy0 = coreBusySeconds(SERVER_CPU);
      const t0 = performance.now();
      const r = await wrk(server.port, DURATION);
      const cpu1 = cpuOf(pids);
      nodeShare[config].push((cpuSeconds(pids[0]) - node0) / (cpu1 - cpu0));
      const other = coreBusySeconds(SERVER_CPU) - busy0 - (cpu1 - cpu0);
      foreign.push(Math.max(0, other) / ((performance.now() - t0) / 1000));
      rps[config].push(r.rps);
      cpuPerReq[config].push(((cpu1 - cpu0) * 1e6) / r.requests);
      last[config] = { ...r, processes: pids.length };
      for (const child of server.children) await stop(child);
      for (const pid of server.workers ?? []) await reap(pid);
      console.log(
        `round ${round + 1} ${config}: ${Math.round(r.rps)} req/s, server CPU ${cpuPerReq[config].at(-1).toFixed(1)} µs/req over ${pids.length} process(es), p50 ${r.p50}, p99 ${r.p99}`,
      );
    }
  }
} catch (err) {
  if (stopping) await new Promise(() => {}); // the signal handler cleans up and exits
  console.error(err);
  await cleanup();
  process.exit(1);
}
await cleanup();

const med = Object.fromEntries(CONFIGS.map((c) => [c, { rps: median(rps[c]), cpu: median(cpuPerReq[c]) }]));
const perCpuSecond = (c) => 1e6 / med[c].cpu;
const ratio = perCpuSecond('mesh') / perCpuSecond('nginx-hop');
const met = ratio > 1;
// Round-to-round spread of CPU per request ((max - min) / median), the larger of the two rows:
// a ratio closer to 1 than this is a tie on this machine, whichever side of 1 it falls.
const spread = Math.max(
  ...['mesh', 'nginx-hop'].map((c) => (Math.max(...cpuPerReq[c]) - Math.min(...cpuPerReq[c])) / med[c].cpu),
);
const verdict = `target ${met ? 'met' : 'NOT met'}${Math.abs(ratio - 1) < spread ? `, but by less than the round-to-round spread of CPU per request (${(spread * 100).toFixed(0)} %): a tie within noise` : ''}`;
const versionOf = (bin, flag) => {
  const r = spawnSync(bin, [flag], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.split('\n')[0].trim();
};
const what = {
  bare: 'bare Fastify, hit directly (reference)',
  mesh: 'Fastify + `createMesh` + `@meshlet/fastify` (ten AuthorizationPolicies, Istio metrics), hit directly',
  'nginx-hop': 'bare Fastify behind nginx (reverse proxy, upstream keepalive, 1 worker)',
};
const rows = CONFIGS.map((c) => {
  const cpu = med[c].cpu;
  return `| ${c} | ${what[c]} | ${last[c].processes} | ${rps[c].map((x) => Math.round(x)).join(' / ')} | ${Math.round(med[c].rps)} | ${cpuPerReq[c].map((x) => x.toFixed(1)).join(' / ')} | ${cpu.toFixed(1)} | ${Math.round(1e6 / cpu)} | ${last[c].p50} / ${last[c].p99} |`;
});
const md = `# Proxy hop: Fastify + meshlet vs Fastify behind nginx (Node ${process.versions.node.split('.')[0]})

\`${process.env.MESHLET_BENCH_ROUTES === 'service' ? 'MESHLET_BENCH_ROUTES=service ' : ''}node bench/proxy-hop.js --duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}\` (${process.env.MESHLET_BENCH_ROUTES === 'service' ? 'a four-route service' : 'a one-route hello world'}): each configuration runs
in its own child processes with every server-side process (node, and nginx master + worker) pinned to
CPU ${SERVER_CPU} (\`taskset\`); \`wrk -t1 -c${CONNECTIONS}\` pinned to CPU ${LOAD_CPU} hits \`GET /hello\` for ${DURATION} s after a
${WARMUP} s warm-up; the configurations are measured in interleaved rounds in one run and compared by
their median.

- Machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} vCPU, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}
- Node ${process.version}; ${versionOf(NGINX, '-v')}; ${versionOf(WRK, '--version').replace(/\s+Copyright.*/, '')}; load average at the end: ${os
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(' / ')}.
- Target (DESIGN.md): a Fastify service with the full mesh serves more requests per CPU-second than
  the same service behind a proxy hop (nginx standing in for a sidecar) on the same machine.

| configuration | what | server processes | req/s per round | median req/s | server CPU µs/req per round | median server CPU µs/req | requests per CPU-second | latency p50 / p99 (last round) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

**mesh vs nginx-hop: ${ratio.toFixed(2)}× the requests per CPU-second (${Math.round(perCpuSecond('mesh'))} vs ${Math.round(perCpuSecond('nginx-hop'))}); ${verdict}.**
Of nginx-hop's median ${med['nginx-hop'].cpu.toFixed(1)} µs/req, Fastify took ${(med['nginx-hop'].cpu * median(nodeShare['nginx-hop'])).toFixed(1)} µs and nginx
${(med['nginx-hop'].cpu * (1 - median(nodeShare['nginx-hop']))).toFixed(1)} µs (median share); the mesh adds ${(med.mesh.cpu - med.bare.cpu).toFixed(1)} µs/req over bare in-process.
Server CPU is the user + system time (/proc/<pid>/stat, \`CLK_TCK\` ${CLK_TCK}) of every server-side
process over the timed window — node alone for \`bare\` and \`mesh\`; node + nginx master + worker
for \`nginx-hop\` — divided by the requests wrk completed, so it does not depend on how the two
cores were shared. Requests per CPU-second is its inverse. Because node and nginx share CPU ${SERVER_CPU}
in \`nginx-hop\`, its req/s is bounded by one core for both processes, as a sidecar's would be
on a one-core pod. The comparison favours the proxy: nginx here only forwards plaintext HTTP,
while a real sidecar (Envoy) also terminates and originates mTLS, records Istio's metrics and
enforces AuthorizationPolicy — the work the \`mesh\` row already includes (ten
AuthorizationPolicies, Istio request metrics; plaintext on a PERMISSIVE port, no mTLS, so the
mesh row pays no TLS cost either).

Other load on CPU ${SERVER_CPU} during the timed windows (its busy time not spent by the server side;
the machine is shared): median ${(median(foreign) * 100).toFixed(1)} %, max ${(Math.max(...foreign) * 100).toFixed(1)} %.
Responses in the last round: ${CONFIGS.map((c) => `${c}: ${last[c].requests} requests / ${last[c].non2xx} non-2xx / socket errors ${last[c].socketErrors}`).join('; ')}.
`;
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', `proxy-hop-node${process.versions.node.split('.')[0]}.md`), md);
console.log(md);
