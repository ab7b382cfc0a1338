// Inbound cost in instructions: each server of bench/inbound-fastify-server.js runs under
// valgrind's callgrind, serves a warm-up, then a fixed number of requests from a keep-alive
// client in this process; the instructions its main (JavaScript) thread executed for them,
// divided by their number, are its cost per request. Far steadier than CPU time on this
// shared machine: on an idle machine the same binary, config and requests give the same
// count to within a fraction of a percent (it leaves out the kernel and V8's background
// compiler threads; bench/inbound-fastify.js measures those in time). Not load-proof: with
// other work running, V8's background compiler finishes later and the main thread runs
// slower code for longer (bare Fastify counted up to 6 % more), so run it on an idle machine.
// Writes bench/results/inbound-instructions-node<major>.md for the node that runs it (the
// servers run on process.execPath, so `/path/to/node24 bench/inbound-instructions.js` measures Node 24).
//   node bench/inbound-instructions.js [--warmup 15000] [--requests 5000] [--runs 3] [--only '<name>;<name>']
// (--only measures the named rows and their baselines, prints them and writes nothing.)
// Needs Debian's `valgrind` (callgrind and callgrind_control).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { which } from './load.js';
import { arg, JWT_SAMPLE, median } from './support.js';

const here = import.meta.dirname;
const WARMUP = arg('warmup', 15000);
const REQUESTS = arg('requests', 5000);
// V8 may optimize a server differently from one process to the next (what it inlines, a
// deoptimization): one process of a mesh row was seen 12 % above two others. Each row is
// measured in RUNS processes and reported as their median, with the range.
const RUNS = arg('runs', 3);
const CONCURRENCY = 10;
const VALGRIND = which('valgrind', ['/usr/bin']);
const CONTROL = which('callgrind_control', ['/usr/bin']);
if (VALGRIND === null || CONTROL === null) {
  console.error('needs valgrind and callgrind_control (Debian package `valgrind`)');
  process.exit(2);
}
const { jwks: JWKS, token: TOKEN } = JWT_SAMPLE;

/** [name, server mode, extra env, sends the token, the row it is compared with]; as in inbound-fastify.js. */
const CONFIGS = [
  ['bare', 'bare', {}, false, 'bare'],
  ['bare, same token sent', 'bare', {}, true, 'bare'],
  ['floor: one no-op onRequest hook', 'floor-hook', {}, false, 'bare'],
  ['floor: hook + AsyncLocalStorage.run', 'floor-als', {}, false, 'bare'],
  [
    'mesh server only (serverFactory, no plugin)',
    'authz',
    { MESHLET_BENCH_VARIANT: 'server-only' },
    false,
    'bare',
  ],
  ['authz, telemetry off', 'authz', { MESHLET_BENCH_TELEMETRY: 'off' }, false, 'bare'],
  ['authz, requestContext: false', 'authz', { MESHLET_BENCH_CONTEXT: 'off' }, false, 'bare'],
  ['authz', 'authz', {}, false, 'bare'],
  ['authz-jwt', 'authz-jwt', {}, true, 'bare, same token sent'],
  // What the three response headers Istio's sidecar adds cost any Fastify app that sends them.
  ['bare + no-op onSend hook', 'bare-onsend', {}, false, 'bare'],
  ["bare + the sidecar's three headers (onSend)", 'bare-headers', {}, false, 'bare'],
  [
    'authz, envoyDebugHeaders and server off',
    'authz',
    {
      MESHLET_BENCH_EXTRA_YAML:
        'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: istio, namespace: istio-system }\ndata:\n  mesh: |\n    defaultConfig:\n      proxyHeaders:\n        envoyDebugHeaders: { disabled: true }\n        server: { disabled: true }\n',
    },
    false,
    'bare',
  ],
];

/** Sends `n` GET /hello over CONCURRENCY keep-alive connections; rejects on any non-200. */
function send(port, n, token) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const headers = token ? { authorization: `Bearer ${TOKEN}` } : {};
  let sent = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const one = () => {
      if (sent >= n) return;
      sent++;
      http
        .get({ host: '127.0.0.1', port, path: '/hello', agent, headers }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`GET /hello answered ${res.statusCode}`));
          res.resume();
          res.on('end', () => {
            if (++done === n) {
              agent.destroy();
              resolve();
            } else one();
          });
        })
        .on('error', reject);
    };
    for (let i = 0; i < CONCURRENCY; i++) one();
  });
}

/** Starts the server under callgrind; resolves with the child, its port and its output dir. */
function startUnderCallgrind(mode, env) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshlet-callgrind-'));
  const child = spawn(
    VALGRIND,
    [
      '--tool=callgrind',
      '--separate-threads=yes',
      // V8 writes machine code into memory it then runs.
      '--smc-check=all-non-file',
      `--callgrind-out-file=${path.join(dir, 'cg.%p')}`,
      process.execPath,
      // V8's memory reducer shrinks the heap when the allocation rate per second of wall
      // time looks idle, which is how a server slowed 50-fold by valgrind looks. When it
      // fired inside the measured window (one process in a few), the shrunken young
      // generation was scavenged about ten times as often: +4,000 to +10,000 instructions
      // per request on Node 24, an outlier in a row's range. A server under real load
      // never looks idle; without the reducer the window sees the scavenges a full-speed
      // run does (2 per 5,000 mesh requests under wrk, 2 here).
      '--no-memory-reducer',
      path.join(here, 'inbound-fastify-server.js'),
      mode,
    ],
    {
      env: { ...process.env, NODE_ENV: 'production', MESHLET_BENCH_JWKS: JWKS, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), dir });
    });
    child.on('exit', (code) => reject(new Error(`${mode} under valgrind exited with ${code}: ${err}`)));
  });
}

/** Instructions of the main thread in the newest dump in `dir` (callgrind's `-01` file). */
function mainThreadInstructions(dir) {
  const dumps = readdirSync(dir).filter((f) => /\.\d+-01$/.test(f));
  if (dumps.length !== 1)
    throw new Error(`expected one main-thread dump in ${dir}, found ${dumps.join(', ')}`);
  const m = /^summary: (\d+)/m.exec(readFileSync(path.join(dir, dumps[0]), 'utf8'));
  if (m === null) throw new Error(`no summary line in ${dumps[0]}`);
  return Number(m[1]);
}

// Row names contain commas ("authz, telemetry off"): each `--only` value names one row
// whole, or several separated by `;`; `--only` may be repeated.
const onlyValues = process.argv.flatMap((a, i) => (a === '--only' ? [process.argv[i + 1] ?? ''] : []));
const only = onlyValues.length === 0 ? null : new Set(onlyValues.flatMap((v) => v.split(';')));
for (const name of only ?? []) {
  if (!CONFIGS.some(([n]) => n === name)) {
    console.error(
      `--only: no row named ${JSON.stringify(name)}; rows: ${CONFIGS.map(([n]) => n).join(' | ')}`,
    );
    process.exit(2);
  }
}
const selected =
  only === null
    ? CONFIGS
    : CONFIGS.filter(([name]) => only.has(name) || CONFIGS.some((c) => only.has(c[0]) && c[4] === name));

/** Instructions per request of one server process. */
async function measure(mode, env, token) {
  const server = await startUnderCallgrind(mode, { ...env, MESHLET_BENCH_ROUTES: 'one' });
  await send(server.port, WARMUP, token);
  execFileSync(CONTROL, ['--zero', String(server.child.pid)], { stdio: 'ignore' });
  await send(server.port, REQUESTS, token);
  execFileSync(CONTROL, ['--dump', String(server.child.pid)], { stdio: 'ignore' });
  const n = mainThreadInstructions(server.dir) / REQUESTS;
  server.child.removeAllListeners('exit');
  server.child.kill('SIGINT');
  await new Promise((res) => server.child.once('exit', res));
  rmSync(server.dir, { recursive: true, force: true });
  return n;
}

const perRequest = {};
const spread = {};
for (const [name, mode, env, token] of selected) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await measure(mode, env, token));
  perRequest[name] = median(runs);
  spread[name] = [Math.min(...runs), Math.max(...runs)];
  console.log(`${name}: ${runs.map(Math.round).join(', ')} instructions per request`);
}

if (only !== null) process.exit(0);
const rows = CONFIGS.map(([name, , , , base]) => {
  const n = perRequest[name];
  const b = perRequest[base];
  const over = n - b;
  const [lo, hi] = spread[name];
  const fmt = (x) => Math.round(x).toLocaleString('en-US');
  return `| ${name} | ${fmt(n)} | ${fmt(lo)}–${fmt(hi)} | ${name === base ? '' : `${over >= 0 ? '+' : ''}${Math.round(over).toLocaleString('en-US')}`} | ${name === base ? '' : `${((100 * b) / n).toFixed(1)} % of ${base}`} |`;
});
const NODE_MAJOR = process.versions.node.split('.')[0];
const md = `# Inbound cost in instructions (callgrind, Node ${NODE_MAJOR})

\`node bench/inbound-instructions.js --warmup ${WARMUP} --requests ${REQUESTS} --runs ${RUNS}\`: each server
of bench/inbound-fastify-server.js (one route, \`GET /hello\`) under valgrind's callgrind, a warm-up
of ${WARMUP.toLocaleString('en-US')} requests, then ${REQUESTS.toLocaleString('en-US')} requests from a keep-alive client over
${CONCURRENCY} connections; the instructions the server's main thread executed for those, per request.
Node ${process.version}; valgrind ${execFileSync(VALGRIND, ['--version']).toString().trim()}; ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} vCPU.
Each server runs with \`--no-memory-reducer\`: V8's memory reducer took valgrind's slowness for an idle
process, shrank the heap and multiplied the scavenges in some processes' windows (up to +10,000
instructions per request); a server under load never looks idle. Each row is ${RUNS} server
processes, reported as their median and range: V8 can optimize one process differently from the
next, which moves a row by up to about 1 % (bare Fastify's rows spread 0.3 % on Node 20 and 1.2 %
on Node 24). The count leaves out the kernel (socket reads and writes, 35–45 % of the
server's CPU time in bench/inbound-fastify.js) and V8's background compiler threads. It moves far
less than time with this shared machine's load, but not nothing: with the test suite running beside
it, bare Fastify counted up to 6 % more (V8's background compiler finishing later), so it is run on
an otherwise idle machine. "Kept" is the baseline's instructions over
the row's: the share of the baseline's requests the row would serve if instructions alone set
the pace.

| server | instructions per request (median) | range over ${RUNS} processes | over its baseline | kept |
|---|---|---|---|---|
${rows.join('\n')}
`;
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', `inbound-instructions-node${NODE_MAJOR}.md`), md);
console.log(md);
