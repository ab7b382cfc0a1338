import type {
  ConnectionCheck,
  ConnectionCheckFacts,
  ConnectionCheckResult,
} from '../../../src/inbound/tcp/connection-authz.js';
import { describe, expect, it } from 'vitest';
import {
  compileConnectionAuthorization,
  type ConnectionFacts,
} from '../../../src/inbound/tcp/connection-authz.js';
import { compileInbound } from '../../../src/inbound/engine-compile.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { authzInput, httpbinPolicy } from '../authz/support.js';
import { peer, planOf, sample } from '../engine/support.js';

/**
 * Istio's network RBAC builder inputs and the filters istiod generates for a TCP chain from
 * them (pilot/pkg/security/authz/builder/testdata/tcp/*-in.yaml, *-out.yaml): each case is
 * a connection and the decision Envoy makes with the generated filter.
 */
function connection(over: Partial<ConnectionFacts> & { from?: string } = {}): ConnectionFacts {
  const { from, ...rest } = over;
  return {
    peer: from === undefined ? null : peer(from),
    port: 80,
    sourceIp: '10.0.0.9',
    destinationIp: '10.0.0.1',
    sni: null,
    ...rest,
  };
}

/** `meshYaml`: a meshConfig (Istio's ConfigMap `mesh` key) loaded with the sample. */
function tcpAuthz(file: string, meshYaml?: string) {
  const mesh = meshYaml === undefined ? '' : istioConfigMap(meshYaml);
  return compileConnectionAuthorization(planOf(`${mesh}${sample(`authz/tcp/${file}`)}`));
}

describe('AuthorizationPolicy on a TCP chain (Istio builder testdata/tcp)', () => {
  describe('allow-both-http-tcp: only rule[3] survives (its out.yaml has one policy)', () => {
    const authz = tcpAuthz('allow-both-http-tcp-in.yaml');

    it('admits ns-1 on port 80 (rule[3]: namespaces + ports)', () => {
      expect(authz.decide(connection({ from: 'cluster.local/ns/ns-1/sa/a', port: 80 })).allow).toBe(true);
    });

    it('refuses ns-1 on 8080: rule[1] carries `methods`, so an ALLOW leaves it out whole', () => {
      const d = authz.decide(connection({ from: 'cluster.local/ns/ns-1/sa/a', port: 8080 }));
      expect(d).toMatchObject({
        allow: false,
        stage: 'allow',
        terminationDetails: 'rbac_access_denied_matched_policy[none]',
      });
    });

    it('refuses ns-2 on 9090: rule[2] carries `requestPrincipals`', () => {
      expect(authz.decide(connection({ from: 'cluster.local/ns/ns-2/sa/a', port: 9090 })).allow).toBe(false);
    });

    it('the same policy on HTTP admits a GET from ns-1 on 8080 (rule[1] kept there)', () => {
      const plan = planOf(sample('authz/tcp/allow-both-http-tcp-in.yaml'));
      const http = compileInbound(plan, createManualClock(), seededRandom(1));
      const p = peer('cluster.local/ns/ns-1/sa/a');
      expect(
        http.rbac(authzInput({ method: 'GET', port: 8080, peer: p, peerUri: `spiffe://${p.principal}` }))
          .allow,
      ).toBe(true);
    });
  });

  it('allow-only-http: every rule is HTTP only, so the ALLOW admits no connection (`rules: {}`)', () => {
    const authz = tcpAuthz('allow-only-http-in.yaml');
    expect(authz.decide(connection({ from: 'cluster.local/ns/ns-1/sa/a' })).allow).toBe(false);
    expect(authz.decide(connection()).allow).toBe(false);
  });

  describe('deny-both-http-tcp: HTTP-only fields are dropped, widening the DENY', () => {
    const authz = tcpAuthz('deny-both-http-tcp-in.yaml');

    it('refuses any connection by rule[0] (requestPrincipals + methods, both dropped: any)', () => {
      for (const c of [connection(), connection({ port: 9999, from: 'cluster.local/ns/x/sa/y' })]) {
        expect(authz.decide(c)).toMatchObject({
          allow: false,
          stage: 'deny',
          policy: 'foo/httpbin-deny',
          terminationDetails: 'rbac_access_denied_matched_policy[ns[foo]-policy[httpbin-deny]-rule[0]]',
        });
      }
    });
  });

  it('dry-run-mix: the dry-run ALLOW is reported, the enforced one decides (port 9000 only)', () => {
    const authz = tcpAuthz('dry-run-mix-in.yaml');
    expect(authz.decide(connection({ port: 9000 })).allow).toBe(true);
    const d = authz.decide(connection({ port: 80 }));
    expect(d.allow).toBe(false);
    expect(d.shadow).toEqual([{ policy: 'foo/httpbin-1', action: 'ALLOW', result: 'allow' }]);
  });

  describe('audit-both-http-tcp: the AUDIT keeps its TCP fields only', () => {
    const authz = tcpAuthz('audit-both-http-tcp-in.yaml');

    it('never refuses', () => {
      expect(authz.decide(connection()).allow).toBe(true);
    });

    it('marks no connection missing the TCP fields (destination.port 91 and 80 both required)', () => {
      expect(authz.decide(connection({ port: 80 })).shadow).toEqual([]);
    });
  });

  describe('policies of our own', () => {
    const policy = (action: string, rules: string) =>
      compileConnectionAuthorization(planOf(httpbinPolicy('p', action, rules)));

    it('an ALLOW rule with `notMethods` is left out, though a connection has no method to be refused', () => {
      const authz = policy('ALLOW', '[{ to: [{ operation: { ports: ["80"], notMethods: ["DELETE"] } }] }]');
      expect(authz.decide(connection({ port: 80 })).allow).toBe(false);
    });

    it('an AUDIT rule with `requestPrincipals` marks every connection its TCP fields match', () => {
      const authz = policy(
        'AUDIT',
        '[{ from: [{ source: { requestPrincipals: ["id-1"] } }], to: [{ operation: { ports: ["80"] } }] }]',
      );
      expect(authz.decide(connection({ port: 80 })).shadow).toEqual([
        { policy: 'foo/p', action: 'AUDIT', result: 'audit' },
      ]);
      expect(authz.decide(connection({ port: 81 })).shadow).toEqual([]);
    });

    it('a DENY `when` on request.headers is dropped; its connection.sni and remoteIpBlocks stay', () => {
      const authz = policy(
        'DENY',
        `[{ from: [{ source: { remoteIpBlocks: ["10.0.0.0/24"] } }],
            when: [{ key: "request.headers[x-a]", values: ["1"] }, { key: "connection.sni", values: ["db.foo"] }] }]`,
      );
      expect(authz.decide(connection({ sni: 'db.foo' })).allow).toBe(false);
      expect(authz.decide(connection({ sni: 'other' })).allow).toBe(true);
      expect(authz.decide(connection({ sni: 'db.foo', sourceIp: '10.0.1.9' })).allow).toBe(true);
    });
  });

  describe('custom-both-http-tcp: CUSTOM with an HTTP provider has no TCP filter', () => {
    const providers = (type: 'envoyExtAuthzHttp' | 'envoyExtAuthzGrpc') => `
extensionProviders:
- name: default
  ${type}: { service: authz.foo.svc.cluster.local, port: 9000 }`;

    it('an HTTP provider is ignored on TCP: the connection is admitted', () => {
      const authz = tcpAuthz('custom-both-http-tcp-in.yaml', providers('envoyExtAuthzHttp'));
      expect(authz.decide(connection()).allow).toBe(true);
    });

    it('a gRPC provider is asked about a matched connection (network ext_authz); unasked, it is refused', async () => {
      const authz = tcpAuthz('custom-both-http-tcp-in.yaml', providers('envoyExtAuthzGrpc'));
      // Without a check (meshlet explain): refused, naming the provider it would ask.
      const unasked = authz.decide(connection());
      expect(unasked).toMatchObject({
        allow: false,
        stage: 'custom',
        policy: 'foo/httpbin-deny',
        flags: ['UAEX'],
      });
      expect(unasked.allow === false && unasked.asks).toBe('default');

      const asked: ConnectionCheckFacts[] = [];
      const answering =
        (answer: ConnectionCheckResult): ConnectionCheck =>
        (provider, facts) => {
          expect(provider.kind).toBe('grpc');
          asked.push(facts);
          return Promise.resolve(answer);
        };
      expect(await authz.decide(connection(), answering({ allow: true }))).toMatchObject({ allow: true });
      const refused = await authz.decide(
        connection(),
        answering({ allow: false, failed: false, detail: 'denied with gRPC status 7' }),
      );
      expect(refused).toMatchObject({
        allow: false,
        stage: 'custom',
        policy: 'foo/httpbin-deny',
        flags: ['UAEX'],
        terminationDetails: null,
      });
      expect(refused.allow === false && refused.detail).toMatch(
        /rule\[0\] matched: denied with gRPC status 7/,
      );
      expect(asked.map((f) => f.localPrincipal)).toEqual([
        'spiffe://cluster.local/ns/foo/sa/httpbin',
        'spiffe://cluster.local/ns/foo/sa/httpbin',
      ]);
    });

    it('a provider meshConfig does not define denies what the policy matches', () => {
      const authz = tcpAuthz('custom-both-http-tcp-in.yaml');
      expect(authz.decide(connection())).toMatchObject({ allow: false, stage: 'custom' });
    });
  });
});
