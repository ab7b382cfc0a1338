import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminServer, type AdminServer } from '../../src/admin/admin-server.js';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { watchConfig, type ConfigWatcher } from '../../src/config/watch.js';
import { runProxyStatus, type ProxyStatusRow } from '../../src/cli/proxy-status.js';
import { SLEEP } from '../admin/support.js';
import { SAMPLES, useTmpDir } from '../helpers/tmp.js';
import { captureIO } from './support.js';

const tmp = useTmpDir();
const servers: AdminServer[] = [];
const watchers: ConfigWatcher[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

/** A config dir holding the httpbin sample (plus `extra` files). */
async function configDir(extra: Record<string, string> = {}): Promise<string> {
  const dir = await tmp();
  await copyFile(path.join(SAMPLES, 'httpbin/httpbin.yaml'), path.join(dir, 'httpbin.yaml'));
  for (const [name, text] of Object.entries(extra)) await writeFile(path.join(dir, name), text);
  return dir;
}

/** A running instance: the real config watcher on `dir`, its admin server on loopback. */
async function instance(dir: string, name: string): Promise<string> {
  // A long debounce: the tests reload by hand, so an edit is never picked up before they ask.
  const watcher = await watchConfig(dir, { debounceMs: 60_000 });
  watchers.push(watcher);
  const workload = { ...SLEEP, name };
  const admin = createAdminServer({
    getPlan: () => compilePlan(watcher.current.snapshot, workload),
    getConfig: () => ({
      hash: watcher.current.hash,
      loadedAt: watcher.current.loadedAt,
      files: watcher.current.snapshot.files,
    }),
    serverInfo: { version: '0.1.0', workload, startedAt: Date.now() },
  });
  servers.push(admin);
  const { port } = await admin.listen();
  return `127.0.0.1:${port}`;
}

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: httpbin, namespace: default }
spec:
  host: httpbin
  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
`;

describe('meshlet proxy-status', () => {
  it('marks an instance SYNCED when it runs the given dir, STALE when it runs other content, ERROR when unreachable', async () => {
    const current = await configDir({ 'dr.yaml': DR });
    const old = await configDir();
    const synced = await instance(current, 'sleep-a');
    const stale = await instance(old, 'sleep-b');
    const gone = createAdminServer({
      getPlan: () => {
        throw new Error('unused');
      },
      getConfig: () => ({ hash: '', loadedAt: 0, files: [] }),
      serverInfo: { version: '0', workload: SLEEP, startedAt: 0 },
    });
    const { port } = await gone.listen();
    await gone.close();

    // The instance loaded an absolute path; the CLI is given the same dir relative to its cwd.
    const io = captureIO({ cwd: path.dirname(current) });
    const code = await runProxyStatus(
      [synced, stale, `127.0.0.1:${port}`, '--config', `./${path.basename(current)}/`],
      io,
    );
    expect(code).toBe(1);
    const lines = io.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+ADMIN\s+CONFIG HASH\s+LOADED\s+STATUS\s+VERSION$/);
    expect(lines[1]).toMatch(
      /^sleep-a\.default\s+http:\/\/127\.0\.0\.1:\d+\s+[0-9a-f]{16}\s+\d+s\s+SYNCED\s+0\.1\.0$/,
    );
    expect(lines[2]).toMatch(/^sleep-b\.default\s+\S+\s+[0-9a-f]{16}\s+\d+s\s+STALE\s+0\.1\.0$/);
    expect(lines[3]).toMatch(/^-\s+http:\/\/127\.0\.0\.1:\d+\s+-\s+-\s+ERROR\s+-$/);
    expect(io.out()).toContain(`Error http://127.0.0.1:${port}: fetch failed`);
  });

  it('follows a reload: STALE before the instance picks up an edit, SYNCED after', async () => {
    const dir = await configDir();
    const url = await instance(dir, 'sleep');
    await writeFile(path.join(dir, 'dr.yaml'), DR);
    const before = captureIO();
    expect(await runProxyStatus([url, '--config', dir, '-o', 'json'], before)).toBe(1);
    const watcher = watchers[0] as ConfigWatcher;
    await watcher.reload();
    const after = captureIO();
    expect(await runProxyStatus([url, '--config', dir, '-o', 'json'], after)).toBe(0);
    const rows = (JSON.parse(after.out()) as { expectedHash: string; proxies: ProxyStatusRow[] }).proxies;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      name: 'sleep.default',
      status: 'SYNCED',
      configHash: watcher.current.hash,
    });
    expect((JSON.parse(before.out()) as { proxies: ProxyStatusRow[] }).proxies[0]?.status).toBe('STALE');
  });

  it('shows the hash without a verdict when no --config is given', async () => {
    const url = await instance(await configDir(), 'sleep');
    const io = captureIO();
    expect(await runProxyStatus([url], io)).toBe(0);
    expect(io.out().split('\n')[1]).toMatch(/\s-\s+0\.1\.0$/);
  });

  it('exits 64 with help when no admin URL is given', async () => {
    const io = captureIO();
    expect(await runProxyStatus(['--config', '.'], io)).toBe(64);
    expect(io.err()).toContain('give at least one admin URL');
  });
});
