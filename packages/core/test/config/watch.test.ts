import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchConfig, type ConfigWatcher, type WatchedConfig } from '../../src/config/watch.js';
import { useTmpDir } from '../helpers/tmp.js';

const vs = (host: string, timeout = '2s') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - timeout: ${timeout}
    route:
    - destination:
        host: ${host}
`;

const tmp = useTmpDir();
const open: ConfigWatcher[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
});

/**
 * Write files the way the kubelet's atomic writer updates a ConfigMap volume:
 * a new timestamped directory, a `..data_tmp` symlink to it renamed over `..data`,
 * user-visible names linked through `..data`, then the old directory removed.
 */
class ConfigMapVolume {
  #gen = 0;
  #current: string | null = null;
  constructor(readonly dir: string) {}

  async write(files: Record<string, string>): Promise<void> {
    const ts = `..2026_11_25_00_00_0${this.#gen++}.${process.pid}`;
    await mkdir(path.join(this.dir, ts));
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(this.dir, ts, name), text);
    await symlink(ts, path.join(this.dir, '..data_tmp'));
    await rename(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
    for (const name of Object.keys(files)) {
      await symlink(path.join('..data', name), path.join(this.dir, name)).catch(
        (e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        },
      );
    }
    if (this.#current !== null) await rm(path.join(this.dir, this.#current), { recursive: true });
    this.#current = ts;
  }
}

function next<E extends 'reload' | 'rejected'>(w: ConfigWatcher, event: E): Promise<WatchedConfig> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} event within 5s`)), 5000);
    const done = (cfg: WatchedConfig) => {
      clearTimeout(t);
      resolve(cfg);
    };
    if (event === 'reload') w.once('reload', done);
    else w.once('rejected', done);
  });
}

const hostOf = (cfg: WatchedConfig) =>
  JSON.stringify(cfg.snapshot.resources[0]?.spec).match(/"host":"([^"]+)"/)?.[1];

describe('watchConfig', () => {
  it('reloads the whole set when a ConfigMap mount swaps its ..data symlink', async () => {
    const dir = await tmp();
    const vol = new ConfigMapVolume(dir);
    await vol.write({ 'vs.yaml': vs('reviews-v1') });
    const w = await watchConfig(dir, { debounceMs: 50 });
    open.push(w);
    expect(hostOf(w.current)).toBe('reviews-v1');
    expect(w.current.snapshot.resources).toHaveLength(1); // not read twice through ..data

    const reloaded = next(w, 'reload');
    await vol.write({ 'vs.yaml': vs('reviews-v2') });
    const cfg = await reloaded;
    expect(hostOf(cfg)).toBe('reviews-v2');
    expect(w.current).toBe(cfg);
    expect(cfg.hash).not.toBe('');
  });

  it('keeps the last good config and reports every problem when a reload is bad', async () => {
    const dir = await tmp();
    const vol = new ConfigMapVolume(dir);
    await vol.write({ 'vs.yaml': vs('reviews-v1') });
    const w = await watchConfig(dir, { debounceMs: 50 });
    open.push(w);
    const good = w.current;

    const rejected = new Promise<readonly string[]>((resolve) =>
      w.once('rejected', (_cfg, reasons) => resolve(reasons)),
    );
    await vol.write({
      'vs.yaml': vs('reviews-v3', '0s'),
      'dr.yaml':
        'kind: DestinationRule\napiVersion: networking.istio.io/v1\nmetadata: {name: x}\nspec: {host: x, subsets: [{name: "Bad_Name"}]}\n',
    });
    const reasons = await rejected;
    expect(reasons.length).toBeGreaterThanOrEqual(2);
    expect(w.current).toBe(good);
    expect(hostOf(w.current)).toBe('reviews-v1');
  });

  it('debounces a burst of writes into one reload', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'vs.yaml'), vs('a'));
    const w = await watchConfig(dir, { debounceMs: 150 });
    open.push(w);
    let reloads = 0;
    w.on('reload', () => reloads++);
    const done = next(w, 'reload');
    for (const h of ['b', 'c', 'd']) await writeFile(path.join(dir, 'vs.yaml'), vs(h));
    const cfg = await done;
    expect(hostOf(cfg)).toBe('d');
    await new Promise((r) => setTimeout(r, 300));
    expect(reloads).toBe(1);
  });

  it('rejects a reload that the accept hook refuses', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'vs.yaml'), vs('a'));
    const w = await watchConfig(dir, {
      debounceMs: 30,
      accept: (c) => (hostOf(c) === 'forbidden' ? ['plan failed'] : []),
    });
    open.push(w);
    const rejected = new Promise<readonly string[]>((resolve) => w.once('rejected', (_c, r) => resolve(r)));
    await writeFile(path.join(dir, 'vs.yaml'), vs('forbidden'));
    expect(await rejected).toEqual(['plan failed']);
    expect(hostOf(w.current)).toBe('a');
  });
});
