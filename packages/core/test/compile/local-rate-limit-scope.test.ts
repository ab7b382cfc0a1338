import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { snapshotOf } from './helpers.js';
import { localRateLimitYaml } from '../helpers/local-rate-limit.js';
import { routeRateLimitYaml } from '../helpers/local-rate-limit-route.js';

// Which local rate limit patches a sidecar's inbound side applies, and on which port,
// as istiod's EnvoyFilter matching decides (pilot/pkg/model/envoyfilter.go proxyMatch,
// pilot/pkg/networking/core/envoyfilter/rc_patch.go routeConfigurationMatch,
// virtualHostMatch, routeMatch). A sidecar's inbound route configuration is named
// `inbound|<port>||`, has one virtual host `inbound|http|<port>` with domains `*` and one
// route named `default` whose action is ROUTE (pilot httproute.go
// buildSidecarInboundHTTPRouteConfig, route.go BuildDefaultHTTPInboundRoute).

const productpage = {
  name: 'productpage-v1',
  namespace: 'default',
  serviceAccount: 'bookinfo-productpage',
  labels: { app: 'productpage' },
};

function limits(yaml: string) {
  return compilePlan(snapshotOf(yaml), productpage).inbound.rateLimits.map((l) => [l.applyTo, l.portNumber]);
}

const route = (rc: string) => limits(routeRateLimitYaml({ routeConfiguration: rc }));

describe('local rate limit patches on the inbound side', () => {
  it('scopes the istio.io task’s route patch to the port of its virtual host inbound|http|9080', () => {
    expect(limits(routeRateLimitYaml())).toEqual([
      ['HTTP_FILTER', null],
      ['HTTP_ROUTE', 9080],
    ]);
  });

  it.each([
    ['portNumber', '{ portNumber: 8080 }', 8080],
    ['the inbound route configuration name', '{ name: "inbound|8080||" }', 8080],
    ['vhost name', '{ vhost: { name: "inbound|http|8080" } }', 8080],
    [
      'portNumber over the vhost’s service port',
      '{ portNumber: 8080, vhost: { name: "inbound|http|80" } }',
      8080,
    ],
    ['vhost domain *', '{ vhost: { domainName: "*" } }', null],
    ['route name default and action ROUTE', '{ vhost: { route: { name: default, action: ROUTE } } }', null],
    ['portName and gateway, read for gateways only', '{ portName: http, gateway: istio-system/gw }', null],
  ])('scopes a route patch by %s', (_name, rc, port) => {
    expect(route(rc)).toEqual([
      ['HTTP_FILTER', null],
      ['HTTP_ROUTE', port],
    ]);
  });

  it.each([
    ['an outbound route configuration name', '{ name: "9080" }'],
    ['an outbound virtual host', '{ vhost: { name: "reviews.default.svc.cluster.local:9080" } }'],
    ['another domain', '{ vhost: { domainName: productpage.default.svc.cluster.local } }'],
    ['another route name', '{ vhost: { route: { name: reviews-v1 } } }'],
    ['a REDIRECT action', '{ vhost: { route: { action: REDIRECT } } }'],
    ['ports that disagree', '{ portNumber: 8080, name: "inbound|9080||" }'],
  ])('leaves out a route patch matching no inbound route: %s', (_name, rc) => {
    expect(route(rc)).toEqual([['HTTP_FILTER', null]]);
  });

  it('keeps the task’s listener-level filter on every port, or on the one it names', () => {
    expect(limits(localRateLimitYaml({ namespace: 'default', selector: null }))).toEqual([
      ['HTTP_FILTER', null],
    ]);
    expect(limits(localRateLimitYaml({ namespace: 'default', selector: null, port: 9080 }))).toEqual([
      ['HTTP_FILTER', 9080],
    ]);
    // listener_patch.go listenerMatch: portNumber 0 is no port match.
    expect(limits(localRateLimitYaml({ namespace: 'default', selector: null, port: 0 }))).toEqual([
      ['HTTP_FILTER', null],
    ]);
  });

  it('applies no SIDECAR_OUTBOUND or GATEWAY patch', () => {
    for (const context of ['SIDECAR_OUTBOUND', 'GATEWAY'])
      expect(limits(routeRateLimitYaml({ context }))).toEqual([]);
  });

  describe('on a workload that runs as a gateway (envoyfilter.go: GATEWAY and ANY patches)', () => {
    const gateway = {
      name: 'istio-ingressgateway-1',
      namespace: 'istio-system',
      serviceAccount: 'istio-ingressgateway-service-account',
      labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
    };
    const onGateway = (o: Parameters<typeof routeRateLimitYaml>[0]) =>
      compilePlan(
        snapshotOf(routeRateLimitYaml({ selector: { istio: 'ingressgateway' }, ...o })),
        gateway,
      ).inbound.rateLimits.map((l) => [l.applyTo, l.portNumber]);

    it('applies GATEWAY and ANY patches and no SIDECAR_INBOUND one', () => {
      expect(onGateway({ context: 'GATEWAY', routeConfiguration: '{ portNumber: 8080 }' })).toEqual([
        ['HTTP_FILTER', null],
        ['HTTP_ROUTE', 8080],
      ]);
      expect(onGateway({ context: 'ANY', routeConfiguration: '{ portNumber: 8080 }' })).toEqual([
        ['HTTP_FILTER', null],
        ['HTTP_ROUTE', 8080],
      ]);
      expect(onGateway({ context: 'SIDECAR_INBOUND' })).toEqual([]);
    });

    it('applies a route patch that names a gateway route, virtual host or server nowhere', () => {
      for (const rc of [
        '{ name: http.8080 }',
        '{ portName: http }',
        '{ gateway: istio-system/bookinfo-gateway }',
        '{ vhost: { name: "bookinfo.example.com:80" } }',
        '{ vhost: { name: "inbound|http|9080" } }',
      ])
        expect(onGateway({ context: 'GATEWAY', routeConfiguration: rc })).toEqual([['HTTP_FILTER', null]]);
    });
  });

  it('inserts nothing before or after an authorization filter the chain does not have', () => {
    // istio envoyfilter/listener_patch.go: INSERT_BEFORE/AFTER a named filter that is absent
    // applies nowhere; istiod adds envoy.filters.http.rbac only for AuthorizationPolicies.
    const beforeRbac = localRateLimitYaml({
      namespace: 'default',
      selector: null,
      subFilter: 'envoy.filters.http.rbac',
    });
    expect(limits(beforeRbac)).toEqual([]);
    const policy = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-all, namespace: default }
spec: { rules: [{}] }
---
`;
    expect(limits(policy + beforeRbac)).toEqual([['HTTP_FILTER', null]]);
    // The router is always there.
    expect(
      limits(
        localRateLimitYaml({ namespace: 'default', selector: null, subFilter: 'envoy.filters.http.router' }),
      ),
    ).toEqual([['HTTP_FILTER', null]]);
  });

  it('fails a proxyVersion longer than 1024 characters closed, as istiod does', () => {
    // envoyfilter.go: ProxyVersionNoMatch, "the patch matches no proxy".
    const long = `'^1\\.2${'0?'.repeat(520)}.*'`;
    expect(limits(routeRateLimitYaml({ filterMatch: `proxy: { proxyVersion: ${long} }` }))).toEqual([
      ['HTTP_ROUTE', 9080],
    ]);
    expect(
      limits(routeRateLimitYaml({ filterMatch: String.raw`proxy: { proxyVersion: '^1\.8.*' }` })),
    ).toEqual([
      ['HTTP_FILTER', null],
      ['HTTP_ROUTE', 9080],
    ]);
  });
});
