import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { secretRows } from '../../src/cli/secrets-table.js';
import { createDevCa, issueWorkloadCertificate } from '../../src/identity/dev-ca.js';

// istioctl's secret rows (istioctl/pkg/writer/compare/sds/util.go secretMetaFromCert).

describe('proxy-config secret rows', () => {
  it('reads type, validity and a 32-digit serial from the first certificate; an expired one is not valid', async () => {
    const ca = await createDevCa();
    const dayMs = 86_400_000;
    const expired = await issueWorkloadCertificate({
      ca,
      namespace: 'default',
      serviceAccount: 'curl',
      ttl: '1h',
      now: () => Date.now() - 2 * dayMs,
    });
    const rows = secretRows([
      { name: 'default', state: 'ACTIVE', certificate: expired.certChainPem },
      { name: 'ROOTCA', state: 'ACTIVE', certificate: ca.rootCertPem },
      { name: 'kubernetes://absent', state: 'WARMING', certificate: null },
      { name: 'file-root:/etc/ca.pem', state: 'ACTIVE', certificate: 'not a PEM' },
    ]).map((r) => r.map((c) => c.text));
    const leaf = new X509Certificate(expired.certChainPem);
    expect(rows[0]).toEqual([
      'default',
      'Cert Chain',
      'ACTIVE',
      'false',
      leaf.serialNumber.toLowerCase().padStart(32, '0'),
      new Date(leaf.validTo).toISOString().replace('.000Z', 'Z'),
      new Date(leaf.validFrom).toISOString().replace('.000Z', 'Z'),
    ]);
    expect(rows[0]?.[4]).toHaveLength(32);
    expect(rows[1]?.slice(0, 4)).toEqual(['ROOTCA', 'CA', 'ACTIVE', 'true']);
    expect(rows[2]).toEqual(['kubernetes://absent', '', 'WARMING', 'false', '', '', '']);
    expect(rows[3]).toEqual(['file-root:/etc/ca.pem', '', 'ACTIVE', 'false', '', '', '']);
  });
});
