import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certSourceFor, httpbin, meshClient, planFor, plainGet, startServer, tlsGet } from './support.js';

const FORGED =
  'By=spiffe://cluster.local/ns/foo/sa/httpbin;URI=spiffe://cluster.local/ns/istio-system/sa/admin';

describe('createMeshServer X-Forwarded-Client-Cert', () => {
  it('strips a forged header from a plaintext caller and reports no peer', async () => {
    const plan = planFor(httpbin('foo'));
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const reply = await plainGet(port, { headers: { 'X-Forwarded-Client-Cert': FORGED } });
    expect(reply.body).toMatchObject({ peer: null, xfcc: null, rawXfcc: [] });
  });

  it('appends the verified element after a forged one and takes identity from the handshake', async () => {
    const plan = planFor(httpbin('foo'));
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const client = await meshClient('bar', 'sleep');
    const reply = await tlsGet(port, client, { headers: { 'X-Forwarded-Client-Cert': FORGED } });
    expect(reply.body.peer).toMatchObject({ principal: 'cluster.local/ns/bar/sa/sleep' });
    const hash = createHash('sha256').update(new X509Certificate(client.cert!).raw).digest('hex');
    const own = `By=spiffe://cluster.local/ns/foo/sa/httpbin;Hash=${hash};Subject="";URI=spiffe://cluster.local/ns/bar/sa/sleep`;
    expect(reply.body.xfcc).toBe(`${FORGED},${own}`);
    expect(reply.body.rawXfcc).toEqual([`${FORGED},${own}`]);
  });

  it('adds the element for an mTLS caller that sent none', async () => {
    const plan = planFor(httpbin('foo'));
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const reply = await tlsGet(port, await meshClient('bar', 'sleep'));
    expect(reply.body.xfcc).toMatch(
      /^By=spiffe:\/\/cluster\.local\/ns\/foo\/sa\/httpbin;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/bar\/sa\/sleep$/,
    );
  });
});
