import { describe, expect, it } from 'vitest';
import { methodProblem } from '../../../src/inbound/normalize/method.js';
import {
  normalizeEachStep,
  normalizeTarget,
  removeDotSegments,
} from '../../../src/inbound/normalize/normalize-path.js';
import type { PathNormalization } from '../../../src/config/mesh-config.js';

type Row = [url: string, none: string, base: string, merge: string, decodeMerge: string];

// Expected paths per mode (spec/security.md §4; istio.io "Authorization Policy Normalization").
const rows: Row[] = [
  ['/admin', '/admin', '/admin', '/admin', '/admin'],
  ['//admin', '//admin', '//admin', '/admin', '/admin'],
  ['/./admin', '/./admin', '/admin', '/admin', '/admin'],
  ['/x/../admin', '/x/../admin', '/admin', '/admin', '/admin'],
  ['/x/%2e%2e/admin', '/x/%2e%2e/admin', '/admin', '/admin', '/admin'],
  ['/%2E%2E/admin', '/%2E%2E/admin', '/admin', '/admin', '/admin'],
  ['/%61dmin', '/%61dmin', '/admin', '/admin', '/admin'],
  ['/admin%2F', '/admin%2F', '/admin%2F', '/admin%2F', '/admin/'],
  ['/x%2F..%2Fadmin', '/x%2F..%2Fadmin', '/x%2F..%2Fadmin', '/x%2F..%2Fadmin', '/admin'],
  ['/admin%2fsecret', '/admin%2fsecret', '/admin%2fsecret', '/admin%2fsecret', '/admin/secret'],
  ['\\admin', '!', '/admin', '/admin', '/admin'],
  ['/x\\..\\admin', '/x\\..\\admin', '/admin', '/admin', '/admin'],
  ['/%5Cadmin', '/%5Cadmin', '/%5Cadmin', '/%5Cadmin', '/admin'],
  ['/Admin', '/Admin', '/Admin', '/Admin', '/Admin'],
  ['/admin;x=1', '/admin;x=1', '/admin;x=1', '/admin;x=1', '/admin;x=1'],
  ['/admin/', '/admin/', '/admin/', '/admin/', '/admin/'],
  ['/admin%252F', '/admin%252F', '/admin%252F', '/admin%252F', '/admin%252F'],
  ['/%252e%252e/admin', '/%252e%252e/admin', '/%252e%252e/admin', '/%252e%252e/admin', '/%252e%252e/admin'],
  [
    '/public/./data/abc/../xyz',
    '/public/./data/abc/../xyz',
    '/public/data/xyz',
    '/public/data/xyz',
    '/public/data/xyz',
  ],
  [
    '/some%2fdata/%61%62%63',
    '/some%2fdata/%61%62%63',
    '/some%2fdata/abc',
    '/some%2fdata/abc',
    '/some/data/abc',
  ],
  ['/a/b/..', '/a/b/..', '/a/', '/a/', '/a/'],
  ['/../../admin', '/../../admin', '/admin', '/admin', '/admin'],
  ['/%7euser/%5f', '/%7euser/%5f', '/~user/_', '/~user/_', '/~user/_'],
  ['/%zz/%4', '/%zz/%4', '/%zz/%4', '/%zz/%4', '/%zz/%4'],
];

const MODES: PathNormalization[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

describe('normalizeTarget', () => {
  it.each(rows)('normalizes %j per mode', (url, ...expected) => {
    const got = MODES.map((m) => {
      const r = normalizeTarget(url, m);
      return r.ok ? r.path : '!';
    });
    expect(got).toEqual(expected);
  });

  it.each(MODES)('strips the fragment and keeps the query apart in %s', (mode) => {
    expect(normalizeTarget('/admin?x=1#frag', mode)).toEqual({ ok: true, path: '/admin', query: '?x=1' });
    expect(normalizeTarget('/admin#x', mode)).toEqual({ ok: true, path: '/admin', query: '' });
    expect(normalizeTarget('/user/profile#x?y', mode)).toEqual({
      ok: true,
      path: '/user/profile',
      query: '',
    });
  });

  it.each(MODES)('refuses %%00 in %s', (mode) => {
    expect(normalizeTarget('/admin%00', mode).ok).toBe(false);
    expect(normalizeTarget('/admin\0', mode).ok).toBe(false);
  });

  it('keeps %00 in the query (only the path is checked)', () => {
    expect(normalizeTarget('/a?x=%00', 'BASE')).toEqual({ ok: true, path: '/a', query: '?x=%00' });
  });

  it('takes the path of an absolute-form target and refuses a relative one', () => {
    expect(normalizeTarget('http://example.com/x/../admin?q', 'BASE')).toEqual({
      ok: true,
      path: '/admin',
      query: '?q',
    });
    expect(normalizeTarget('http://example.com', 'BASE')).toEqual({ ok: true, path: '/', query: '' });
    expect(normalizeTarget('admin', 'BASE').ok).toBe(false);
  });

  it('decodes only once, so %2525 never becomes a slash', () => {
    const r = normalizeTarget('/a%25252F', 'DECODE_AND_MERGE_SLASHES');
    expect(r).toEqual({ ok: true, path: '/a%25252F', query: '' });
  });
});

describe('normalizeTarget shortcut', () => {
  // A seeded generator, so a failure names a reproducible input.
  let seed = 7;
  // mulberry32
  const rand = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n) | 0;
  };
  const special = ['/', '/', 'a', 'b', '.', '%', '2', 'e', 'F', '5', 'C', '?', '#', '\\', '\0', '0', ':'];
  const plain = ['/', 'a', 'b', '0', 'F', ':', '-'];
  const modes: PathNormalization[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

  it('gives what every step gives, for 20,000 random targets in each mode', () => {
    let shortcut = 0;
    for (let k = 0; k < 20_000; k++) {
      const alphabet = k % 2 === 0 ? special : plain;
      let url = rand(8) === 0 ? '' : '/';
      for (let n = rand(12); n > 0; n--) url += alphabet[rand(alphabet.length)];
      for (const mode of modes)
        expect(normalizeTarget(url, mode), `${JSON.stringify(url)} ${mode}`).toEqual(
          normalizeEachStep(url, mode),
        );
      if (url.startsWith('/') && !/[#?%\\.\0]|\/\//.test(url)) shortcut++;
    }
    // The sample holds plenty of targets the shortcut takes, and many it must not.
    expect(shortcut).toBeGreaterThan(4_000);
    expect(shortcut).toBeLessThan(16_000);
  });

  it.each(['/', '/hello', '/api/v1/items/42', '/a/b/'])(
    'passes %s through unchanged in every mode',
    (url) => {
      for (const mode of modes)
        expect(normalizeTarget(url, mode)).toEqual({ ok: true, path: url, query: '' });
    },
  );
});

describe('removeDotSegments', () => {
  it.each([
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/..', '/'],
    ['/a/.', '/a/'],
    ['/a/...', '/a/...'],
    ['/a/..b/c', '/a/..b/c'],
  ])('resolves %s to %s', (input, out) => {
    expect(removeDotSegments(input)).toBe(out);
  });
});

describe('methodProblem', () => {
  it.each([
    ['GET', false],
    ['POST', false],
    ['M-SEARCH', false],
    ['get', true],
    ['GeT', true],
    ['', true],
  ])('judges %j (problem: %s)', (method, bad) => {
    expect(methodProblem(method) !== null).toBe(bad);
  });
});
