import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/config/diagnostic.js';
import { loadConfigText } from '../../../src/config/load.js';
import { validate } from './helpers.js';

// VirtualService fields meshlet accepts but does not act on are warned (MESHLET0004) at
// their path, never silently ignored (DESIGN.md "Istio is the spec"). `tcp` and `tls`
// routes are applied (mesh.connect, https calls, a gateway's TCP and passthrough servers),
// so they are not warned about. `statPrefix` names a route's Envoy stats (istio route.go
// translateRoute sets route.stat_prefix).

const TCP_TLS = {
  hosts: ['mongo.example.com'],
  tcp: [
    {
      match: [{ port: 27017 }],
      route: [{ destination: { host: 'mongo.example.com', port: { number: 27017 } } }],
    },
  ],
  tls: [
    {
      match: [{ port: 443, sniHosts: ['mongo.example.com'] }],
      route: [{ destination: { host: 'mongo.example.com', port: { number: 443 } } }],
    },
  ],
};

describe('VirtualService settings meshlet does not apply', () => {
  it('does not warn for tcp and tls routes, for the mesh or for Gateways: both are applied', () => {
    for (const gateways of [undefined, ['mesh'], ['tcp-echo-gateway'], ['tcp-echo-gateway', 'mesh']]) {
      const spec = gateways === undefined ? TCP_TLS : { ...TCP_TLS, gateways };
      expect(validate('VirtualService', spec)).toEqual([]);
    }
  });

  it('warns for every statPrefix, at its match entry', () => {
    const found = validate('VirtualService', {
      hosts: ['reviews'],
      http: [
        {
          match: [{ uri: { prefix: '/a' }, statPrefix: 'a' }],
          route: [{ destination: { host: 'reviews' } }],
        },
        {
          match: [{ uri: { prefix: '/b' } }, { uri: { prefix: '/c' }, statPrefix: 'c' }],
          route: [{ destination: { host: 'reviews' } }],
        },
      ],
    });
    expect(found.map((f) => [f.level, f.code, formatPath(f.path)])).toEqual([
      ['Warning', 'MESHLET0004', 'spec.http[0].match[0].statPrefix'],
      ['Warning', 'MESHLET0004', 'spec.http[1].match[1].statPrefix'],
    ]);
    expect(found[0]?.message).toMatch(/no per-route statistics/);
  });

  it('says nothing about an HTTP-only VirtualService', () => {
    const found = validate('VirtualService', {
      hosts: ['reviews'],
      http: [{ match: [{ uri: { prefix: '/a' } }], route: [{ destination: { host: 'reviews' } }] }],
    });
    expect(found).toEqual([]);
  });

  it('reports the warnings at load with file and line', () => {
    const snap = loadConfigText(
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: mongo, namespace: default }
spec:
  hosts: [mongo.example.com]
  http:
  - match:
    - uri: { prefix: /status }
      statPrefix: status
    route: [{ destination: { host: mongo.example.com } }]
  tls:
  - match: [{ port: 27017, sniHosts: [mongo.example.com] }]
    route: [{ destination: { host: mongo.example.com, port: { number: 27017 } } }]
`,
      { file: 'mesh/mongo.yaml' },
    );
    expect(snap.diagnostics.map((d) => [d.code, d.file, d.line, d.path])).toEqual([
      ['MESHLET0004', 'mesh/mongo.yaml', 9, 'spec.http[0].match[0].statPrefix'],
    ]);
    expect(snap.resources).toHaveLength(1);
  });
});
