import { describe, expect, it } from 'vitest';
import { engineFor, planOf, request } from './support.js';

// Envoy's HTTP/1 codec rejects a transfer coding it does not implement (RFC 7230 §3.3.1) with a
// 501 local reply before any filter: any Transfer-Encoding but `chunked` (compared without
// case), and any on a CONNECT (codec_impl.cc onHeadersCompleteImpl, details
// `http1.invalid_transfer_encoding`). Transfer-Encoding is an inline header, so repeats are
// one value joined with `,`.

const ALLOW_ALL = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-all, namespace: foo }
spec: { rules: [{}] }
`;

const decide = (headers: Record<string, string | string[]>, method = 'POST') =>
  engineFor(planOf(ALLOW_ALL)).decide(request({ method, headers: { host: 'httpbin.foo:8000', ...headers } }));

describe("the codec's transfer codings", () => {
  it.each([['chunked'], ['Chunked'], ['CHUNKED']])('takes %s', async (te) => {
    expect((await decide({ 'transfer-encoding': te })).allow).toBe(true);
  });

  it('takes a request without one', async () => {
    expect((await decide({})).allow).toBe(true);
  });

  it.each([
    ['gzip', 'gzip'],
    ['gzip, chunked', 'gzip, chunked'],
    ['chunked twice', ['chunked', 'chunked']],
    ['identity', 'identity'],
  ])('refuses %s with 501, DPE and http1.invalid_transfer_encoding, before any policy', async (_, te) => {
    const d = await decide({ 'transfer-encoding': te });
    expect(d.allow).toBe(false);
    if (d.allow) return;
    expect([d.status, d.body, d.flags]).toEqual([501, 'Not Implemented', ['DPE']]);
    expect(d.reason).toMatchObject({
      stage: 'codec',
      responseCodeDetails: 'http1.invalid_transfer_encoding',
    });
    expect(d.headers['connection']).toBe('close');
  });

  it('refuses any transfer coding on a CONNECT, chunked too', async () => {
    const d = await decide({ 'transfer-encoding': 'chunked' }, 'CONNECT');
    expect(d.allow ? 200 : d.status).toBe(501);
  });
});
