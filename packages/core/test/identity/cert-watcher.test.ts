import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchCertDir, type CertEvent, type CertWatcher } from '../../src/identity/cert-watcher.js';
import { createManualClock } from '../../src/runtime/clock.js';
import { useTmpDir } from '../helpers/tmp.js';
import { k8sFiles, kubeletSwap, mountK8sVolume, sharedCa, workloadCert } from './support.js';

const tmp = useTmpDir();
const open: CertWatcher[] = [];
afterEach(() => {
  for (const w of open.splice(0)) w.close();
});

async function watched(dir: string, options: Parameters<typeof watchCertDir>[1] = {}): Promise<CertWatcher> {
  const w = await watchCertDir(dir, { debounceMs: 20, ...options });
  open.push(w);
  return w;
}

function nextEvent(w: CertWatcher): Promise<CertEvent> {
  return new Promise((resolve) => {
    const off = w.onEvent((e) => {
      off();
      resolve(e);
    });
  });
}

describe('watchCertDir', () => {
  it('swaps to the new certificates when the kubelet swaps ..data', async () => {
    const dir = await tmp();
    const first = await workloadCert('foo', 'httpbin', { ttl: '1h' });
    await mountK8sVolume(dir, k8sFiles(first));
    const w = await watched(dir);
    expect(w.expiresAt().getTime()).toBe(first.notAfter.getTime());
    const second = await workloadCert('foo', 'httpbin', { ttl: '2h' });
    const event = nextEvent(w);
    await kubeletSwap(dir, k8sFiles(second));
    const e = await event;
    expect(e.type).toBe('rotated');
    if (e.type !== 'rotated') return;
    expect(e.previous.keyPem).toBe(first.keyPem);
    expect(w.current().keyPem).toBe(second.keyPem);
    expect(w.current().certChainPem).toBe(second.certChainPem);
    expect(w.expiresAt().getTime()).toBe(second.notAfter.getTime());
  });

  it('keeps the old certificates and reports why when a rotation is half-written', async () => {
    const dir = await tmp();
    const first = await workloadCert();
    await mountK8sVolume(dir, k8sFiles(first));
    const w = await watched(dir);
    const second = await workloadCert();
    const rejected = nextEvent(w);
    // The new certificate arrived, its key not yet.
    await kubeletSwap(dir, { ...k8sFiles(second), 'tls.key': first.keyPem });
    const e = await rejected;
    expect(e.type).toBe('rejected');
    expect(e.type === 'rejected' && e.reason).toContain('does not match');
    expect(w.current().keyPem).toBe(first.keyPem);
    const rotated = nextEvent(w);
    await kubeletSwap(dir, k8sFiles(second));
    expect((await rotated).type).toBe('rotated');
    expect(w.current().keyPem).toBe(second.keyPem);
  });

  it.each([
    [
      'a truncated certificate',
      (f: Record<string, string>) => ({ ...f, 'tls.crt': f['tls.crt']!.slice(0, 300) }),
      'no PEM certificate',
    ],
    [
      'a CA bundle from another CA',
      async (f: Record<string, string>) => ({ ...f, 'ca.crt': (await sharedCa('other')).rootCertPem }),
      'does not chain',
    ],
  ])('rejects %s and keeps serving the old one', async (_name, mutate, reason) => {
    const dir = await tmp();
    const first = await workloadCert();
    await mountK8sVolume(dir, k8sFiles(first));
    const w = await watched(dir);
    const e = nextEvent(w);
    await kubeletSwap(dir, await mutate({ ...k8sFiles(await workloadCert()) }));
    const event = await e;
    expect(event.type === 'rejected' && event.reason).toContain(reason);
    expect(event.type === 'rejected' && event.kept.keyPem).toBe(first.keyPem);
    expect(w.current().keyPem).toBe(first.keyPem);
  });

  it('follows files rewritten in place in a plain directory', async () => {
    const dir = await tmp();
    const first = await workloadCert();
    for (const [f, t] of Object.entries(k8sFiles(first))) await writeFile(path.join(dir, f), t);
    const w = await watched(dir);
    const second = await workloadCert();
    const before = w.current().fingerprint256;
    // Two separate writes: a reload between them may be rejected; only the rotation counts.
    const rotated = new Promise<CertEvent>((resolve) => w.onEvent((e) => e.type === 'rotated' && resolve(e)));
    await writeFile(path.join(dir, 'tls.key'), second.keyPem);
    await writeFile(path.join(dir, 'tls.crt'), second.certChainPem);
    await rotated;
    expect(w.current().fingerprint256).not.toBe(before);
    expect(w.current().keyPem).toBe(second.keyPem);
  });

  it('reloads once, after the debounce, for a burst of file events', async () => {
    const dir = await tmp();
    await mountK8sVolume(dir, k8sFiles(await workloadCert()));
    const clock = createManualClock();
    const w = await watched(dir, { clock, debounceMs: 100 });
    const events: CertEvent[] = [];
    w.onEvent((e) => events.push(e));
    const second = await workloadCert();
    await kubeletSwap(dir, k8sFiles(second));
    await vi.waitFor(() => expect(clock.pending()).toBe(1));
    await clock.advance(99);
    expect(events).toHaveLength(0);
    expect(w.current().keyPem).not.toBe(second.keyPem);
    await clock.advance(1);
    await vi.waitFor(() => expect(events).toHaveLength(1));
    expect(events[0]?.type).toBe('rotated');
    expect(clock.pending()).toBe(0);
  });

  it('reports nothing when a reload finds the same certificates', async () => {
    const dir = await tmp();
    const cert = await workloadCert();
    await mountK8sVolume(dir, k8sFiles(cert));
    const w = await watched(dir);
    expect(await w.reload()).toBeNull();
  });

  it('refuses to start on a directory without usable certificates', async () => {
    const dir = await tmp();
    await expect(watchCertDir(dir)).rejects.toMatchObject({ code: 'MESHLET_ERR_IDENTITY_CERTS' });
  });
});
