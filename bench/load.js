// Load generation and CPU accounting shared by the HTTP throughput benchmarks: wrk pinned to
// one core with taskset while the servers run pinned to the other, so the load generator does
// not take CPU from the server it measures; server CPU from /proc.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The path of a tool on PATH (or in one of `dirs`), else null. */
export function which(name, dirs = []) {
  return (
    [...dirs, ...(process.env.PATH ?? '').split(':')].map((d) => path.join(d, name)).find(existsSync) ?? null
  );
}

export const WRK = which('wrk', ['/usr/bin']);
export const TASKSET = which('taskset', ['/usr/bin']);
/** Server processes run on this core, wrk on LOAD_CPU. */
export const SERVER_CPU = 0;
export const LOAD_CPU = 1;
/** Whether wrk and taskset are here and there are two cores to split. */
export const PINNED = WRK !== null && TASKSET !== null && os.cpus().length >= 2;

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process in seconds (/proc/<pid>/stat fields 14 and 15). */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** `[command, ...args]` to run pinned to `cpu` when taskset is here. */
export function pinned(cpu, command, args) {
  return TASKSET === null ? [command, args] : [TASKSET, ['-c', String(cpu), command, ...args]];
}

/**
 * Runs wrk (pinned to LOAD_CPU) against `url` and parses its summary: req/s, requests,
 * non-2xx responses, socket errors, p50 and p99 latency. `onSpawn` gets the child.
 */
export function runWrk(url, { duration, connections, headers = {}, onSpawn = () => {} }) {
  return new Promise((resolve, reject) => {
    const args = ['-t1', `-c${connections}`, `-d${duration}s`, '--latency'];
    for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
    const [cmd, argv] = pinned(LOAD_CPU, WRK, [...args, url]);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const num = (re) => Number(re.exec(out)?.[1] ?? NaN);
      const r = {
        rps: num(/Requests\/sec:\s+([\d.]+)/),
        requests: num(/(\d+) requests in/),
        non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
        socketErrors: /Socket errors: (.*)/.exec(out)?.[1] ?? 'none',
        p50: /\s50%\s+(\S+)/.exec(out)?.[1] ?? '?',
        p99: /\s99%\s+(\S+)/.exec(out)?.[1] ?? '?',
      };
      if (code !== 0 || !(r.requests > 0)) reject(new Error(`wrk failed (${code}): ${out}`));
      else resolve(r);
    });
  });
}

/**
 * Starts `node <script> <mode>` (pinned to SERVER_CPU when `pin`) and resolves with the
 * child and the port once it prints `listening <port>`. `onSpawn` gets the child.
 */
export function startServer(script, mode, { env = {}, pin = PINNED, onSpawn = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = pin
      ? pinned(SERVER_CPU, process.execPath, [script, mode])
      : [process.execPath, [script, mode]];
    const child = spawn(cmd, argv, {
      env: { ...process.env, NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    onSpawn(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}
