import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { loadConfigText } from '../../src/config/load.js';

const run = (analyzer: string, yaml: string) =>
  analyze(loadConfigText(yaml, { file: 'se.yaml' }), { analyzers: [analyzer], includeLoaderFindings: false });

const se = (name: string, ports: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: default
spec:
  hosts: ["api.example.com"]
  location: MESH_EXTERNAL
  resolution: DNS
${extra}  ports:
${ports}
`;

// istio pkg/config/analysis/analyzers/serviceentry/protocoladdresses.go; messages.yaml IST0134.
describe('serviceentry.Analyzer (ProtocolAddressesAnalyzer)', () => {
  it('reports a TCP port without addresses at the port, with istioctl text', () => {
    const ms = run(
      'serviceentry.Analyzer',
      se('db', '  - number: 5432\n    name: tcp-pg\n    protocol: TCP'),
    );
    expect(ms.map((m) => [m.code, m.level, m.origin, m.reference, m.message])).toEqual([
      [
        'IST0134',
        'Warning',
        'ServiceEntry default/db',
        'se.yaml:12',
        'ServiceEntry addresses are required for this protocol.',
      ],
    ]);
  });

  it('accepts HTTP ports, and TCP ports when addresses are set', () => {
    expect(
      run('serviceentry.Analyzer', se('web', '  - number: 80\n    name: http\n    protocol: HTTP')),
    ).toEqual([]);
    const withAddresses = se(
      'db',
      '  - number: 5432\n    name: tcp-pg\n    protocol: TCP',
      '  addresses: ["240.0.0.10"]\n',
    );
    expect(run('serviceentry.Analyzer', withAddresses)).toEqual([]);
  });

  // istio protocoladdresses.go addressAllocated: addresses istiod allocated into the
  // resource's status count as addresses; an empty status list does not.
  it('skips an entry whose status carries allocated addresses, as loaded from YAML', () => {
    const tcp = '  - number: 5432\n    name: tcp-pg\n    protocol: TCP';
    const allocated = `${se('db', tcp)}status:\n  addresses:\n  - host: api.example.com\n    value: 240.240.0.1\n`;
    const snapshot = loadConfigText(allocated, { file: 'se.yaml' });
    // status is kept as written, not validated (istiod's own webhook warns on the spec only).
    expect(snapshot.diagnostics.filter((d) => d.path.startsWith('status'))).toEqual([]);
    expect(snapshot.resources[0]?.status).toEqual({
      addresses: [{ host: 'api.example.com', value: '240.240.0.1' }],
    });
    expect(run('serviceentry.Analyzer', allocated)).toEqual([]);
    const empty = `${se('db', tcp)}status:\n  addresses: []\n`;
    expect(run('serviceentry.Analyzer', empty).map((m) => m.code)).toEqual(['IST0134']);
  });
});

// istio pkg/config/analysis/analyzers/serviceentry/conflictingserviceentries.go; messages.yaml IST0177.
describe('serviceentry.ConflictingServiceEntryProtocolAnalyzer', () => {
  const analyzer = 'serviceentry.ConflictingServiceEntryProtocolAnalyzer';
  it('reports each entry declaring the same host and port with another protocol', () => {
    const yaml = [
      se('api-http', '  - number: 443\n    name: http\n    protocol: HTTP'),
      se('api-tls', '  - number: 443\n    name: tls\n    protocol: TLS'),
    ].join('---\n');
    const text =
      'Multiple ServiceEntries (default/api-http, default/api-tls) define the same host "api.example.com" and port 443 with conflicting protocols (HTTP, TLS).';
    expect(run(analyzer, yaml).map((m) => [m.code, m.origin, m.message])).toEqual([
      ['IST0177', 'ServiceEntry default/api-http', text],
      ['IST0177', 'ServiceEntry default/api-tls', text],
    ]);
  });

  it('compares protocols case-insensitively and scopes by exportTo', () => {
    const sameProtocol = [
      se('a', '  - number: 443\n    name: tls\n    protocol: tls'),
      se('b', '  - number: 443\n    name: tls\n    protocol: TLS'),
    ].join('---\n');
    expect(run(analyzer, sameProtocol)).toEqual([]);
    const apart = [
      se('a', '  - number: 443\n    name: http\n    protocol: HTTP', '  exportTo: ["."]\n'),
      se('b', '  - number: 443\n    name: tls\n    protocol: TLS', '  exportTo: ["other"]\n'),
    ].join('---\n');
    expect(run(analyzer, apart)).toEqual([]);
  });
});
