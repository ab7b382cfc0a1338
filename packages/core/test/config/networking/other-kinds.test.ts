import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/config/diagnostic.js';
import { validate } from './helpers.js';

interface Case {
  readonly kind: string;
  readonly rule: string;
  readonly valid: unknown;
  readonly invalid: unknown;
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const dr = (extra: Record<string, unknown>) => ({ host: 'reviews', ...extra });
const tp = (policy: Record<string, unknown>) => dr({ trafficPolicy: policy });
const se = (extra: Record<string, unknown>) => ({ hosts: ['api.example.com'], ...extra });
const gw = (server: Record<string, unknown>) => ({
  selector: { istio: 'ingressgateway' },
  servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'], ...server }],
});
const https = (tls: Record<string, unknown>) =>
  gw({ port: { number: 443, name: 'https', protocol: 'HTTPS' }, tls });

const CASES: readonly Case[] = [
  {
    kind: 'DestinationRule',
    rule: 'subset names are unique',
    valid: dr({ subsets: [{ name: 'v1' }, { name: 'v2' }] }),
    invalid: dr({ subsets: [{ name: 'v1' }, { name: 'v1' }] }),
    path: ['spec', 'subsets', 1, 'name'],
    message: 'duplicate subset names: v1',
  },
  {
    kind: 'DestinationRule',
    rule: 'subset names are DNS-1123 labels',
    valid: dr({ subsets: [{ name: 'v1-canary' }] }),
    invalid: dr({ subsets: [{ name: 'v1_canary' }] }),
    path: ['spec', 'subsets', 0, 'name'],
    message: 'subset name is invalid: v1_canary',
  },
  {
    kind: 'DestinationRule',
    rule: 'outlier maxEjectionPercent is 0..100',
    valid: tp({ outlierDetection: { maxEjectionPercent: 100 } }),
    invalid: tp({ outlierDetection: { maxEjectionPercent: 101 } }),
    path: ['spec', 'trafficPolicy', 'outlierDetection', 'maxEjectionPercent'],
    message: 'percentage 101 is not in range 0..100',
  },
  {
    kind: 'DestinationRule',
    rule: 'outlier minHealthPercent is 0..100',
    valid: tp({ outlierDetection: { minHealthPercent: 0 } }),
    invalid: tp({ outlierDetection: { minHealthPercent: -1 } }),
    path: ['spec', 'trafficPolicy', 'outlierDetection', 'minHealthPercent'],
    message: 'percentage -1 is not in range 0..100',
  },
  {
    kind: 'DestinationRule',
    rule: 'consistentHash has one hash key',
    valid: tp({ loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } }),
    invalid: tp({ loadBalancer: { consistentHash: { httpHeaderName: 'x-user', useSourceIp: true } } }),
    path: ['spec', 'trafficPolicy', 'loadBalancer', 'consistentHash'],
    message: 'only one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName can be set',
  },
  {
    kind: 'DestinationRule',
    rule: 'loadBalancer is simple or consistentHash',
    valid: tp({ loadBalancer: { simple: 'ROUND_ROBIN' } }),
    invalid: tp({ loadBalancer: { simple: 'ROUND_ROBIN', consistentHash: { useSourceIp: true } } }),
    path: ['spec', 'trafficPolicy', 'loadBalancer'],
    message: 'only one of simple, consistentHash, backendUtilization can be set',
  },
  {
    kind: 'DestinationRule',
    rule: 'maglev table sizes are prime',
    valid: tp({ loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 65537 } } } }),
    invalid: tp({ loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 65536 } } } }),
    path: ['spec', 'trafficPolicy', 'loadBalancer', 'consistentHash', 'maglev', 'tableSize'],
    message: 'tableSize must be a prime number for maglev',
  },
  {
    kind: 'DestinationRule',
    rule: 'local-origin failures need split mode',
    valid: tp({
      outlierDetection: { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 3 },
    }),
    invalid: tp({ outlierDetection: { consecutiveLocalOriginFailures: 3 } }),
    path: ['spec', 'trafficPolicy', 'outlierDetection', 'consecutiveLocalOriginFailures'],
    message: 'split external local origin errors is set to false',
  },
  {
    kind: 'DestinationRule',
    rule: 'tcp idleTimeout may be 0s but connectTimeout may not',
    valid: tp({ connectionPool: { tcp: { idleTimeout: '0s', connectTimeout: '30ms' } } }),
    invalid: tp({ connectionPool: { tcp: { connectTimeout: '0s' } } }),
    path: ['spec', 'trafficPolicy', 'connectionPool', 'tcp', 'connectTimeout'],
    message: 'duration must be greater than 1ms',
  },
  {
    kind: 'DestinationRule',
    rule: 'connection-pool counts are not negative',
    valid: tp({ connectionPool: { http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 } } }),
    invalid: tp({ connectionPool: { http: { http2MaxRequests: -1 } } }),
    path: ['spec', 'trafficPolicy', 'connectionPool', 'http', 'http2MaxRequests'],
    message: 'http2 max requests must be non-negative',
  },
  {
    kind: 'DestinationRule',
    rule: 'a traffic policy is not empty',
    valid: tp({ tls: { mode: 'ISTIO_MUTUAL' } }),
    invalid: tp({}),
    path: ['spec', 'trafficPolicy'],
    message: 'traffic policy must have at least one field',
  },
  {
    kind: 'DestinationRule',
    rule: 'tunnel and proxyProtocol are exclusive',
    valid: tp({ tunnel: { targetHost: 'proxy.example.com', targetPort: 8080 } }),
    invalid: tp({
      tunnel: { targetHost: 'proxy.example.com', targetPort: 8080 },
      proxyProtocol: { version: 'V1' },
    }),
    path: ['spec', 'trafficPolicy'],
    message: 'tunnel and proxyProtocol must not be set together',
  },
  {
    kind: 'DestinationRule',
    rule: 'MUTUAL client TLS needs a certificate',
    valid: tp({ tls: { mode: 'MUTUAL', clientCertificate: '/c.pem', privateKey: '/k.pem' } }),
    invalid: tp({ tls: { mode: 'MUTUAL', privateKey: '/k.pem' } }),
    path: ['spec', 'trafficPolicy', 'tls', 'clientCertificate'],
    message: 'client certificate required for mutual tls',
  },
  {
    kind: 'DestinationRule',
    rule: 'port-level settings name a port',
    valid: tp({ portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'DISABLE' } }] }),
    invalid: tp({ portLevelSettings: [{ tls: { mode: 'DISABLE' } }] }),
    path: ['spec', 'trafficPolicy', 'portLevelSettings', 0],
    message: 'portTrafficPolicy must have valid port',
  },
  {
    kind: 'DestinationRule',
    rule: 'locality distribute weights sum to 100',
    valid: tp({
      loadBalancer: {
        localityLbSetting: { distribute: [{ from: 'us/*', to: { 'us/a/*': 60, 'us/b/*': 40 } }] },
      },
    }),
    invalid: tp({
      loadBalancer: { localityLbSetting: { distribute: [{ from: 'us/*', to: { 'us/a/*': 60 } }] } },
    }),
    path: ['spec', 'trafficPolicy', 'loadBalancer', 'localityLbSetting', 'distribute', 0, 'to'],
    message: 'total locality weight 60 != 100',
  },
  {
    kind: 'DestinationRule',
    rule: 'a workloadSelector rule is exported to its own namespace only',
    valid: dr({ workloadSelector: { matchLabels: { app: 'a' } }, exportTo: ['.'] }),
    invalid: dr({ workloadSelector: { matchLabels: { app: 'a' } }, exportTo: ['other'] }),
    path: ['spec', 'exportTo'],
    message: 'destination rule with workload selector cannot have exportTo beyond current namespace',
  },
  {
    kind: 'DestinationRule',
    rule: 'exportTo `*` stands alone',
    valid: dr({ exportTo: ['*'] }),
    invalid: dr({ exportTo: ['*', 'other'] }),
    path: ['spec', 'exportTo'],
    message: 'cannot have both public (*) and non-public exportTo values for a resource',
  },
  {
    kind: 'ServiceEntry',
    rule: 'port numbers are unique',
    valid: se({
      ports: [
        { name: 'a', number: 80 },
        { name: 'b', number: 81 },
      ],
      resolution: 'DNS',
    }),
    invalid: se({
      ports: [
        { name: 'a', number: 80 },
        { name: 'b', number: 80 },
      ],
      resolution: 'DNS',
    }),
    path: ['spec', 'ports'],
    message: 'port number cannot be duplicated',
  },
  {
    kind: 'ServiceEntry',
    rule: 'port names are DNS labels',
    valid: se({ ports: [{ name: 'http-api', number: 80, protocol: 'HTTP' }], resolution: 'DNS' }),
    invalid: se({ ports: [{ name: 'http_api', number: 80, protocol: 'HTTP' }], resolution: 'DNS' }),
    path: ['spec', 'ports', 0, 'name'],
    message: 'invalid port name: http_api',
  },
  {
    kind: 'ServiceEntry',
    rule: 'port protocols are known',
    valid: se({ ports: [{ name: 'a', number: 80, protocol: 'grpc-web' }], resolution: 'DNS' }),
    invalid: se({ ports: [{ name: 'a', number: 80, protocol: 'QUIC' }], resolution: 'DNS' }),
    path: ['spec', 'ports', 0, 'protocol'],
    message: 'unsupported protocol: QUIC',
  },
  {
    kind: 'ServiceEntry',
    rule: 'NONE resolution has no endpoints',
    valid: se({ resolution: 'STATIC', endpoints: [{ address: '1.2.3.4' }] }),
    invalid: se({ endpoints: [{ address: '1.2.3.4' }] }),
    path: ['spec', 'endpoints'],
    message: 'NONE mode cannot set endpoints',
  },
  {
    kind: 'ServiceEntry',
    rule: 'STATIC endpoints are IP addresses',
    valid: se({ resolution: 'STATIC', endpoints: [{ address: '10.0.0.1' }] }),
    invalid: se({ resolution: 'STATIC', endpoints: [{ address: 'db.example.com' }] }),
    path: ['spec', 'endpoints', 0, 'address'],
    message: 'endpoint address "db.example.com" is not a valid IP address',
  },
  {
    kind: 'ServiceEntry',
    rule: 'endpoint ports name service ports',
    valid: se({
      resolution: 'DNS',
      ports: [{ name: 'http', number: 80 }],
      endpoints: [{ address: 'a.com', ports: { http: 8080 } }],
    }),
    invalid: se({
      resolution: 'DNS',
      ports: [{ name: 'http', number: 80 }],
      endpoints: [{ address: 'a.com', ports: { grpc: 8080 } }],
    }),
    path: ['spec', 'endpoints', 0, 'ports', 'grpc'],
    message: 'endpoint port 8080 is not defined by the service entry',
  },
  {
    kind: 'ServiceEntry',
    rule: 'wildcard hosts need endpoints under DNS resolution',
    valid: se({ hosts: ['*.example.com'], resolution: 'NONE' }),
    invalid: se({ hosts: ['*.example.com'], resolution: 'DNS' }),
    path: ['spec', 'hosts', 0],
    message:
      'hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode DNS',
  },
  {
    kind: 'ServiceEntry',
    rule: 'CIDR addresses only with NONE/STATIC resolution',
    valid: se({ addresses: ['10.0.0.0/8'], resolution: 'STATIC', endpoints: [{ address: '10.0.0.1' }] }),
    invalid: se({ addresses: ['10.0.0.0/8'], resolution: 'DNS' }),
    path: ['spec', 'addresses'],
    message: 'CIDR addresses are allowed only for NONE/STATIC resolution types',
  },
  {
    kind: 'ServiceEntry',
    rule: 'addresses are IPs or CIDR blocks',
    valid: se({ addresses: ['2001:db8::/32'] }),
    invalid: se({ addresses: ['1.2.3.4/99'] }),
    path: ['spec', 'addresses', 0],
    message: '1.2.3.4/99 is not a valid CIDR block',
  },
  {
    kind: 'ServiceEntry',
    rule: 'selector labels have no wildcard key',
    valid: se({ resolution: 'STATIC', workloadSelector: { labels: { app: 'db' } } }),
    invalid: se({ resolution: 'STATIC', workloadSelector: { labels: { '*': 'db' } } }),
    path: ['spec', 'workloadSelector', 'labels', '*'],
    message: 'wildcard is not supported in selector',
  },
  {
    kind: 'ServiceEntry',
    rule: 'hosts have no partial wildcard label',
    valid: se({ hosts: ['*.example.com'] }),
    invalid: se({ hosts: ['foo*'] }),
    path: ['spec', 'hosts', 0],
    message: 'domain name "foo*" invalid',
  },
  {
    kind: 'ServiceEntry',
    rule: 'several hosts need HTTP or TLS ports unless resolution is NONE',
    valid: se({
      hosts: ['a.com', 'b.com'],
      resolution: 'DNS',
      ports: [{ name: 'h', number: 80, protocol: 'HTTP' }],
    }),
    invalid: se({
      hosts: ['a.com', 'b.com'],
      resolution: 'DNS',
      ports: [{ name: 't', number: 80, protocol: 'TCP' }],
    }),
    path: ['spec', 'ports', 0],
    message: 'multiple hosts provided with non-HTTP, non-TLS ports',
  },
  {
    kind: 'ServiceEntry',
    rule: 'exportTo `~` stands alone',
    valid: se({ exportTo: ['~'] }),
    invalid: se({ exportTo: ['~', 'other'] }),
    path: ['spec', 'exportTo'],
    message: 'cannot export service entry to no one (~) and someone',
  },
  {
    kind: 'WorkloadEntry',
    rule: 'a DNS address is a valid FQDN',
    valid: { address: 'vm-1.example.com' },
    invalid: { address: 'vm_1.example.com' },
    path: ['spec', 'address'],
    message: 'endpoint address "vm_1.example.com" is not a valid FQDN or an IP address',
  },
  {
    kind: 'WorkloadEntry',
    rule: 'labels are Kubernetes labels',
    valid: { address: '10.0.0.1', labels: { 'app.kubernetes.io/name': 'a' } },
    invalid: { address: '10.0.0.1', labels: { app: 'bad value' } },
    path: ['spec', 'labels', 'app'],
    message: 'invalid tag value: "bad value"',
  },
  {
    kind: 'WorkloadEntry',
    rule: 'a UDS address is absolute',
    valid: { address: 'unix:///var/run/app.sock' },
    invalid: { address: 'unix://var/run/app.sock' },
    path: ['spec', 'address'],
    message: 'UDS must be an absolute path or abstract socket',
  },
  {
    kind: 'WorkloadGroup',
    rule: 'probes use HTTP or HTTPS schemes',
    valid: { template: {}, probe: { httpGet: { port: 80, scheme: 'HTTPS' } } },
    invalid: { template: {}, probe: { httpGet: { port: 80, scheme: 'ftp' } } },
    path: ['spec', 'probe', 'httpGet', 'scheme'],
    message: 'scheme must be one of [HTTP, HTTPS]',
  },
  {
    kind: 'WorkloadGroup',
    rule: 'a probe names its method',
    valid: { template: {}, probe: { tcpSocket: { port: 80 }, periodSeconds: 5 } },
    invalid: { template: {}, probe: { periodSeconds: 5 } },
    path: ['spec', 'probe'],
    message: 'unknown health check method',
  },
  {
    kind: 'Gateway',
    rule: 'server port names are unique',
    valid: {
      servers: [gw({}).servers[0], { port: { number: 81, name: 'http2', protocol: 'HTTP' }, hosts: ['*'] }],
    },
    invalid: {
      servers: [gw({}).servers[0], { port: { number: 81, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
    },
    path: ['spec', 'servers', 1, 'port', 'name'],
    message: 'port names in servers must be unique: duplicate name http',
  },
  {
    kind: 'Gateway',
    rule: 'servers have at least one host',
    valid: gw({ hosts: ['bookinfo/*.example.com'] }),
    invalid: gw({ hosts: [] }),
    path: ['spec', 'servers', 0, 'hosts'],
    message: 'server config must contain at least one host',
  },
  {
    kind: 'Gateway',
    rule: 'server hosts are FQDNs, not short names',
    valid: gw({ hosts: ['uk.bookinfo.com'] }),
    invalid: gw({ hosts: ['bookinfo'] }),
    path: ['spec', 'servers', 0, 'hosts', 0],
    message: 'short names (non FQDN) are not allowed',
  },
  {
    kind: 'Gateway',
    rule: 'HTTPS servers need tls',
    valid: https({ mode: 'SIMPLE', credentialName: 'cert' }),
    invalid: gw({ port: { number: 443, name: 'https', protocol: 'HTTPS' } }),
    path: ['spec', 'servers', 0],
    message: 'server must have TLS settings for HTTPS/TLS protocols',
  },
  {
    kind: 'Gateway',
    rule: 'ISTIO_MUTUAL forbids certificate fields',
    valid: https({ mode: 'ISTIO_MUTUAL' }),
    invalid: https({ mode: 'ISTIO_MUTUAL', credentialName: 'cert' }),
    path: ['spec', 'servers', 0, 'tls', 'credentialName'],
    message: 'ISTIO_MUTUAL TLS cannot have associated credentialName',
  },
  {
    kind: 'Gateway',
    rule: 'MUTUAL file certificates need a CA bundle',
    valid: https({ mode: 'MUTUAL', serverCertificate: '/c', privateKey: '/k', caCertificates: '/ca' }),
    invalid: https({ mode: 'MUTUAL', serverCertificate: '/c', privateKey: '/k' }),
    path: ['spec', 'servers', 0, 'tls', 'caCertificates'],
    message: 'MUTUAL TLS requires a client CA bundle',
  },
  {
    kind: 'Gateway',
    rule: 'plain HTTP servers carry tls only for httpsRedirect',
    valid: gw({ tls: { httpsRedirect: true } }),
    invalid: gw({ tls: { mode: 'SIMPLE', credentialName: 'cert' } }),
    path: ['spec', 'servers', 0, 'tls'],
    message: 'server cannot have TLS settings for plain text HTTP ports',
  },
  {
    kind: 'Gateway',
    rule: 'server ports are 1-65535',
    valid: gw({ port: { number: 8080, name: 'http', protocol: 'HTTP' } }),
    invalid: gw({ port: { number: 0, name: 'http', protocol: 'HTTP' } }),
    path: ['spec', 'servers', 0, 'port', 'number'],
    message: 'port number 0 must be in the range 1..65535',
  },
  {
    kind: 'Sidecar',
    rule: 'egress hosts are namespace/dnsName',
    valid: { egress: [{ hosts: ['./*', 'istio-system/*'] }] },
    invalid: { egress: [{ hosts: ['foo.com'] }] },
    path: ['spec', 'egress', 0, 'hosts', 0],
    message: 'host must be of form namespace/dnsName',
  },
  {
    kind: 'Sidecar',
    rule: 'a sidecar is not empty',
    valid: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } },
    invalid: {},
    path: ['spec'],
    message: 'sidecar: empty configuration provided',
  },
  {
    kind: 'Sidecar',
    rule: 'only the last egress listener omits its port',
    valid: {
      egress: [{ port: { number: 80, protocol: 'HTTP', name: 'h' }, hosts: ['*/*'] }, { hosts: ['./*'] }],
    },
    invalid: {
      egress: [{ hosts: ['./*'] }, { port: { number: 80, protocol: 'HTTP', name: 'h' }, hosts: ['*/*'] }],
    },
    path: ['spec', 'egress', 0],
    message: 'sidecar: the egress listener with empty port should be the last listener in the list',
  },
];

describe('networking webhook rules', () => {
  it.each(CASES.map((c) => [c.kind, c.rule, c] as const))('%s accepts the valid case: %s', (_k, _r, c) => {
    expect(validate(c.kind, c.valid).filter((f) => f.level === 'Error')).toEqual([]);
  });

  it.each(CASES.map((c) => [c.kind, c.rule, c] as const))(
    '%s rejects the invalid case at its path: %s',
    (_k, _r, c) => {
      const found = validate(c.kind, c.invalid).filter(
        (f) => f.level === 'Error' && f.message.includes(c.message),
      );
      expect(found.map((f) => f.path)).toContainEqual(c.path);
    },
  );

  it('warns with IST0002 on a deprecated outlierDetection.consecutiveErrors', () => {
    const found = validate('DestinationRule', tp({ outlierDetection: { consecutiveErrors: 5 } }));
    expect(found.map((f) => [f.level, f.code, f.path])).toEqual([
      ['Warning', 'IST0002', ['spec', 'trafficPolicy', 'outlierDetection', 'consecutiveErrors']],
    ]);
  });

  it('does not warn for load-balancer settings meshlet applies (cookie ttl, locality, zone-aware, warmup)', () => {
    const found = validate(
      'DestinationRule',
      dr({
        trafficPolicy: {
          loadBalancer: {
            consistentHash: { httpCookie: { name: 'user', ttl: '0s' } },
            localityLbSetting: { enabled: true },
            warmupDurationSecs: '30s',
          },
        },
        subsets: [
          {
            name: 'v1',
            labels: { version: 'v1' },
            trafficPolicy: {
              loadBalancer: {
                simple: 'ROUND_ROBIN',
                zoneAwareLbSetting: { enabled: true },
                warmup: { duration: '60s', minimumPercent: 20, aggression: 2 },
              },
            },
          },
        ],
      }),
    );
    // Slow start and zone-aware load balancing are applied: no warning for either.
    expect(found.map((f) => [f.level, f.code, formatPath(f.path)])).toEqual([]);
  });

  it('warns (MESHLET0004) for traffic-policy settings meshlet validates but does not apply, at every level', () => {
    const found = validate(
      'DestinationRule',
      dr({
        trafficPolicy: {
          connectionPool: {
            tcp: { maxConnectionDuration: '1m', tcpKeepalive: { time: '10s', probes: 3 } },
            http: { h2UpgradePolicy: 'UPGRADE' },
          },
          tls: { mode: 'SIMPLE', credentialName: 'api-secret' },
          proxyProtocol: { version: 'V1' },
          retryBudget: { percent: 10, budgetInterval: '10s' },
          portLevelSettings: [{ port: { number: 9080 }, tls: { mode: 'MUTUAL', credentialName: 'other' } }],
        },
        subsets: [
          {
            name: 'v1',
            labels: { version: 'v1' },
            trafficPolicy: { tunnel: { targetHost: 'proxy.example.com', targetPort: 3128 } },
          },
        ],
      }),
    );
    const top = ['spec', 'trafficPolicy'];
    expect(found.filter((f) => f.code === 'MESHLET0004').map((f) => formatPath(f.path))).toEqual([
      formatPath([...top, 'connectionPool', 'tcp', 'tcpKeepalive', 'probes']),
      formatPath([...top, 'connectionPool', 'http', 'h2UpgradePolicy']),
      formatPath([...top, 'proxyProtocol']),
      formatPath([...top, 'retryBudget', 'budgetInterval']),
      formatPath(['spec', 'subsets', 0, 'trafficPolicy', 'tunnel']),
    ]);
    expect(found.every((f) => f.level === 'Warning')).toBe(true);
    // What is applied draws no warning: tcpKeepalive.time, maxConnectionDuration, SIMPLE
    // files, a credentialName (read from createMesh({ credentials })).
    const applied = validate(
      'DestinationRule',
      tp({
        connectionPool: {
          tcp: { maxConnectionDuration: '1m', tcpKeepalive: { time: '10s' }, idleTimeout: '5s' },
        },
        tls: { mode: 'SIMPLE', caCertificates: '/etc/ca.pem', caCrl: '/etc/crl.pem', sni: 'api.example.com' },
        portLevelSettings: [{ port: { number: 9080 }, tls: { mode: 'MUTUAL', credentialName: 'other' } }],
      }),
    );
    expect(applied).toEqual([]);
  });

  it('reports a missing spec as Required', () => {
    for (const kind of ['ServiceEntry', 'WorkloadEntry', 'WorkloadGroup']) {
      const found = validate(kind, undefined);
      expect(found.map((f) => [f.path, f.message.startsWith('Required value')])).toEqual([[['spec'], true]]);
    }
  });
});
