import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { watchCertDir, type CertEvent, type CertWatcher } from '../../../src/identity/cert-watcher.js';
import { useTmpDir } from '../../helpers/tmp.js';
import { k8sFiles, kubeletSwap, mountK8sVolume, workloadCert } from '../../identity/support.js';
import {
  httpbin,
  keepAliveTlsAgent,
  meshClient,
  planFor,
  sampleText,
  startServer,
  tlsGet,
} from './support.js';

const tmp = useTmpDir();
const watchers: CertWatcher[] = [];
afterEach(() => {
  for (const w of watchers.splice(0)) w.close();
});

describe('createMeshServer certificate rotation', () => {
  it('serves new handshakes with rotated certificates without dropping a kept-alive connection', async () => {
    const dir = await tmp();
    const before = await workloadCert('foo', 'httpbin');
    await mountK8sVolume(dir, k8sFiles(before));
    const certs = await watchCertDir(dir, { debounceMs: 20 });
    watchers.push(certs);
    const plan = planFor(httpbin('foo'), [
      { text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') },
    ]);
    const { port } = await startServer({ getPlan: () => plan, certs });
    const client = await meshClient('bar', 'sleep');
    const agent = keepAliveTlsAgent();
    try {
      const first = await tlsGet(port, client, { agent });
      const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
      expect(first.serverFingerprint).toBe(fingerprint(before.certChainPem));

      const after = await workloadCert('foo', 'httpbin');
      const rotated = new Promise<CertEvent>((resolve) => certs.onEvent(resolve));
      await kubeletSwap(dir, k8sFiles(after));
      expect((await rotated).type).toBe('rotated');

      // Same socket, same TLS session: still served, still the old certificate.
      const kept = await tlsGet(port, client, { agent });
      expect(kept.status).toBe(200);
      expect(kept.localPort).toBe(first.localPort);
      expect(kept.serverFingerprint).toBe(fingerprint(before.certChainPem));
      expect(kept.body.peer).toMatchObject({ principal: 'cluster.local/ns/bar/sa/sleep' });

      // A new connection handshakes with the rotated certificate.
      const fresh = await tlsGet(port, client);
      expect(fresh.localPort).not.toBe(first.localPort);
      expect(fresh.serverFingerprint).toBe(fingerprint(after.certChainPem));
    } finally {
      agent.destroy();
    }
  });

  it('keeps serving the old certificate when a rotation is broken', async () => {
    const dir = await tmp();
    const before = await workloadCert('foo', 'httpbin');
    await mountK8sVolume(dir, k8sFiles(before));
    const certs = await watchCertDir(dir, { debounceMs: 20 });
    watchers.push(certs);
    const plan = planFor(httpbin('foo'));
    const { port } = await startServer({ getPlan: () => plan, certs });
    const rejected = new Promise<CertEvent>((resolve) => certs.onEvent(resolve));
    const next = await workloadCert('foo', 'httpbin');
    await kubeletSwap(dir, { ...k8sFiles(next), 'tls.crt': next.certChainPem.slice(0, 200) });
    expect((await rejected).type).toBe('rejected');
    const reply = await tlsGet(port, await meshClient('bar', 'sleep'));
    expect(reply.serverFingerprint).toBe(new X509Certificate(before.certChainPem).fingerprint256);
  });
});
