import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadCertDir } from '../../src/identity/cert-source.js';
import { captureIO } from '../cli/support.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

async function run(argv: string[], cwd: string) {
  const io = captureIO({ cwd });
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('meshlet certs', () => {
  it('creates a CA and issues a certificate that openssl verifies, with the SPIFFE SAN', async () => {
    const cwd = await tmp();
    const ca = await run(['certs', 'ca', '--out', 'ca'], cwd);
    expect(ca).toMatchObject({ code: 0, err: '' });
    expect((await readdir(path.join(cwd, 'ca'))).sort()).toEqual(['ca.crt', 'ca.key']);
    const issued = await run(
      [
        'certs',
        'issue',
        '--ca',
        'ca',
        '-n',
        'shop',
        '--service-account',
        'cart',
        '--out',
        'certs',
        '--dns',
        'cart.shop.svc',
      ],
      cwd,
    );
    expect(issued.code).toBe(0);
    expect(issued.out).toContain('Issued spiffe://cluster.local/ns/shop/sa/cart');
    const dir = path.join(cwd, 'certs');
    expect((await readdir(dir)).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(openssl('verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'tls.crt')).trim()).toBe(
      `${path.join(dir, 'tls.crt')}: OK`,
    );
    expect(openssl('x509', '-noout', '-ext', 'subjectAltName', '-in', path.join(dir, 'tls.crt'))).toMatch(
      /URI:spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart, DNS:cart\.shop\.svc|DNS:cart\.shop\.svc, URI:spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart/,
    );
    // What meshlet certs writes is what the server loads.
    expect((await loadCertDir(dir)).spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
  });

  it('honours --trust-domain, --ttl and --layout istio', async () => {
    const cwd = await tmp();
    await run(['certs', 'ca', '--out', 'ca', '--common-name', 'Team CA', '--days', '30'], cwd);
    const r = await run(
      [
        'certs',
        'issue',
        '--ca',
        'ca',
        '--namespace',
        'a',
        '--service-account',
        'b',
        '--out',
        'o',
        '--trust-domain',
        'example.org',
        '--ttl',
        '90s',
        '--layout',
        'istio',
      ],
      cwd,
    );
    expect(r.code).toBe(0);
    expect((await readdir(path.join(cwd, 'o'))).sort()).toEqual([
      'cert-chain.pem',
      'key.pem',
      'root-cert.pem',
    ]);
    const leaf = new X509Certificate(await readFile(path.join(cwd, 'o', 'cert-chain.pem')));
    expect(leaf.subjectAltName).toBe('URI:spiffe://example.org/ns/a/sa/b');
    expect(new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()).toBe(90_000);
    expect(leaf.issuer).toContain('CN=Team CA');
  });

  it.each([
    [['certs'], 64, 'Usage:'],
    [['certs', 'sign'], 64, 'unknown command "sign"'],
    [['certs', 'ca'], 64, '--out is required'],
    [['certs', 'ca', '--out', 'x', '--days', 'ten'], 64, '--days must be a positive whole number'],
    [['certs', 'issue', '--ca', 'ca', '--out', 'o', '--service-account', 'b'], 64, '--namespace is required'],
    [
      ['certs', 'issue', '--ca', 'ca', '--out', 'o', '-n', 'a', '--service-account', 'b', '--layout', 'pem'],
      64,
      '--layout must be one of',
    ],
    [
      ['certs', 'issue', '--ca', 'ca', '--out', 'o', '-n', 'a', '--service-account', 'b', '--ttl', 'forever'],
      64,
      'not a duration',
    ],
    [
      ['certs', 'issue', '--ca', 'ca', '--out', 'o', '-n', 'A_B', '--service-account', 'b'],
      64,
      'not a valid Kubernetes name',
    ],
    [
      ['certs', 'issue', '--ca', 'missing', '--out', 'o', '-n', 'a', '--service-account', 'b'],
      65,
      'no CA in',
    ],
  ])('exits %#: %j', async (argv, code, message) => {
    const cwd = await tmp();
    await run(['certs', 'ca', '--out', 'ca'], cwd);
    const r = await run(argv, cwd);
    expect(r.code).toBe(code);
    expect(r.err).toContain(message);
  });

  it('exits 65 when the CA key does not belong to the CA certificate', async () => {
    const cwd = await tmp();
    await run(['certs', 'ca', '--out', 'one'], cwd);
    await run(['certs', 'ca', '--out', 'two'], cwd);
    await writeFile(path.join(cwd, 'one', 'ca.key'), await readFile(path.join(cwd, 'two', 'ca.key')));
    const r = await run(
      ['certs', 'issue', '--ca', 'one', '--out', 'o', '-n', 'a', '--service-account', 'b'],
      cwd,
    );
    expect(r.code).toBe(65);
    expect(r.err).toContain('does not belong');
  });

  it('refuses to overwrite a CA without --force', async () => {
    const cwd = await tmp();
    await run(['certs', 'ca', '--out', 'ca'], cwd);
    const before = await readFile(path.join(cwd, 'ca', 'ca.key'), 'utf8');
    const again = await run(['certs', 'ca', '--out', 'ca'], cwd);
    expect(again.code).toBe(1);
    expect(await readFile(path.join(cwd, 'ca', 'ca.key'), 'utf8')).toBe(before);
    expect((await run(['certs', 'ca', '--out', 'ca', '--force'], cwd)).code).toBe(0);
    expect(await readFile(path.join(cwd, 'ca', 'ca.key'), 'utf8')).not.toBe(before);
  });

  it.each([
    [['certs', '--help'], 'meshlet certs ca --out <dir>'],
    [['certs', 'ca', '--help'], 'Writes <dir>/ca.crt and <dir>/ca.key'],
    [['certs', 'issue', '-h'], '--layout <k8s|istio|spiffe-helper>'],
    [['help', 'certs'], 'meshlet certs issue --ca <dir>'],
  ])('prints help for %j', async (argv, text) => {
    const r = await run(argv, await tmp());
    expect(r.code).toBe(0);
    expect(r.out).toContain(text);
  });
});
