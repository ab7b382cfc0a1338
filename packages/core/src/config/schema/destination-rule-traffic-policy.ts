import { z } from 'zod';
import { duration, stringMap, uint } from '../validate/fields.js';
import { atMostOne, nonNegativeInt, portSelector } from './networking-common.js';

/** TrafficPolicy and its parts (istio/api networking/v1alpha3/destination_rule.proto). */

/** ConnectionPoolSettings.TCPSettings.TcpKeepalive. */
export const tcpKeepalive = z.strictObject({
  probes: uint().optional(),
  time: duration().optional(),
  interval: duration().optional(),
});

/** ConnectionPoolSettings.TCPSettings; `idleTimeout: 0s` disables the timeout. */
export const tcpSettings = z.strictObject({
  maxConnections: nonNegativeInt('max connections').optional(),
  connectTimeout: duration().optional(),
  tcpKeepalive: tcpKeepalive.optional(),
  maxConnectionDuration: duration().optional(),
  idleTimeout: duration({ allowZero: true }).optional(),
});
export type TCPSettings = z.infer<typeof tcpSettings>;

/** ConnectionPoolSettings.HTTPSettings. */
export const httpSettings = z.strictObject({
  http1MaxPendingRequests: nonNegativeInt('http1 max pending requests').optional(),
  http2MaxRequests: nonNegativeInt('http2 max requests').optional(),
  maxRequestsPerConnection: nonNegativeInt('max requests per connection').optional(),
  maxRetries: nonNegativeInt('max retries').optional(),
  idleTimeout: duration().optional(),
  h2UpgradePolicy: z.enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
  useClientProtocol: z.boolean().optional(),
  maxConcurrentStreams: nonNegativeInt('max concurrent streams').optional(),
  http2KeepAlive: z
    .strictObject({ interval: duration().optional(), timeout: duration().optional() })
    .optional(),
});
export type HTTPSettings = z.infer<typeof httpSettings>;

/** ConnectionPoolSettings `{ tcp, http }` (also Sidecar `inboundConnectionPool`). */
export const connectionPoolSettings = z.strictObject({
  tcp: tcpSettings.optional(),
  http: httpSettings.optional(),
});
export type ConnectionPoolSettings = z.infer<typeof connectionPoolSettings>;

const failoverEntry = z.strictObject({ from: z.string().optional(), to: z.string().optional() });

/** LocalityLoadBalancerSetting; `enabled` is a BoolValue. */
export const localityLbSetting = z.strictObject({
  distribute: z
    .array(z.strictObject({ from: z.string().optional(), to: z.record(z.string(), uint()).optional() }))
    .optional(),
  failover: z.array(failoverEntry).optional(),
  failoverPriority: z.array(z.string()).optional(),
  enabled: z.boolean().optional(),
});
export type LocalityLoadBalancerSetting = z.infer<typeof localityLbSetting>;

/** ZoneAwareLoadBalancerSetting. */
export const zoneAwareLbSetting = z.strictObject({
  enabled: z.boolean().optional(),
  failover: z.array(failoverEntry).optional(),
  failoverPriority: z.array(z.string()).optional(),
  minClusterSize: z.number().int().min(1).optional(),
});

/** ConsistentHashLB.HTTPCookie; `ttl: 0s` makes a session cookie. */
export const httpCookie = z.strictObject({
  name: z.string(),
  path: z.string().optional(),
  ttl: duration({ allowZero: true }).optional(),
  attributes: z.array(z.strictObject({ name: z.string(), value: z.string().optional() })).optional(),
});

/** ConsistentHashLB: one hash key and one of `ringHash` / `maglev`. */
export const consistentHashLb = z
  .strictObject({
    httpHeaderName: z.string().optional(),
    httpCookie: httpCookie.optional(),
    useSourceIp: z.boolean().optional(),
    httpQueryParameterName: z.string().optional(),
    ringHash: z.strictObject({ minimumRingSize: uint().optional() }).optional(),
    maglev: z.strictObject({ tableSize: uint().optional() }).optional(),
    /** Deprecated: use `ringHash.minimumRingSize`. */
    minimumRingSize: uint().optional(),
  })
  .superRefine(atMostOne(['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName']))
  .superRefine(atMostOne(['ringHash', 'maglev']));
export type ConsistentHashLB = z.infer<typeof consistentHashLb>;

/** WarmupConfiguration; `minimumPercent`/`aggression` are DoubleValue wrappers. */
export const warmup = z.strictObject({
  duration: duration(),
  minimumPercent: z.number().min(0).max(100).optional(),
  aggression: z.number().min(0).optional(),
});

/** LoadBalancerSettings: one of `simple`, `consistentHash`, `backendUtilization`. */
export const loadBalancerSettings = z
  .strictObject({
    simple: z
      .enum(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'])
      .optional(),
    consistentHash: consistentHashLb.optional(),
    backendUtilization: z
      .strictObject({
        weightExpirationPeriod: duration({ allowZero: true }).optional(),
        weightUpdatePeriod: duration({ allowZero: true }).optional(),
        weightStabilizationPeriod: duration({ allowZero: true }).optional(),
        errorUtilizationPenaltyPercent: uint().optional(),
        metricNamesForComputingUtilization: z.array(z.string()).optional(),
      })
      .optional(),
    localityLbSetting: localityLbSetting.optional(),
    zoneAwareLbSetting: zoneAwareLbSetting.optional(),
    warmupDurationSecs: duration().optional(),
    warmup: warmup.optional(),
  })
  .superRefine(atMostOne(['simple', 'consistentHash', 'backendUtilization']));
export type LoadBalancerSettings = z.infer<typeof loadBalancerSettings>;

/** OutlierDetection; the UInt32Value wrappers are plain numbers. */
export const outlierDetection = z.strictObject({
  /** Deprecated: use `consecutive5xxErrors` / `consecutiveGatewayErrors`. */
  consecutiveErrors: z.number().int().optional(),
  splitExternalLocalOriginErrors: z.boolean().optional(),
  consecutiveLocalOriginFailures: uint().optional(),
  consecutiveGatewayErrors: uint().optional(),
  consecutive5xxErrors: uint().optional(),
  interval: duration().optional(),
  baseEjectionTime: duration().optional(),
  maxEjectionPercent: z.number().int().optional(),
  minHealthPercent: z.number().int().optional(),
  outlierDetectionHttpErrorCodes: z.array(z.number().int().min(100).max(599)).optional(),
});
export type OutlierDetection = z.infer<typeof outlierDetection>;

/** ClientTLSSettings; `insecureSkipVerify` is a BoolValue. */
export const clientTlsSettings = z.strictObject({
  mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']).optional(),
  clientCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  credentialName: z.string().optional(),
  subjectAltNames: z.array(z.string()).optional(),
  sni: z.string().optional(),
  insecureSkipVerify: z.boolean().optional(),
  caCrl: z.string().optional(),
});
export type ClientTLSSettings = z.infer<typeof clientTlsSettings>;

/** TrafficPolicy.TunnelSettings. */
export const tunnelSettings = z.strictObject({
  protocol: z.string().optional(),
  targetHost: z.string(),
  targetPort: uint(),
});
export type TunnelSettings = z.infer<typeof tunnelSettings>;

/** TrafficPolicy.ProxyProtocol. */
export const proxyProtocol = z.strictObject({ version: z.enum(['V1', 'V2']).optional() });

/** TrafficPolicy.RetryBudget; `percent` is a DoubleValue. */
export const retryBudget = z.strictObject({
  percent: z.number().min(0).max(100).optional(),
  minRetryConcurrency: uint().optional(),
  budgetInterval: duration({ allowZero: true }).optional(),
});
export type RetryBudget = z.infer<typeof retryBudget>;

/** TrafficPolicy.PortTrafficPolicy: a `portLevelSettings` entry. */
export const portTrafficPolicy = z.strictObject({
  port: portSelector.optional(),
  loadBalancer: loadBalancerSettings.optional(),
  connectionPool: connectionPoolSettings.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTlsSettings.optional(),
});
export type PortTrafficPolicy = z.infer<typeof portTrafficPolicy>;

/** TrafficPolicy (DestinationRule top level and subsets). */
export const trafficPolicy = z.strictObject({
  loadBalancer: loadBalancerSettings.optional(),
  connectionPool: connectionPoolSettings.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTlsSettings.optional(),
  portLevelSettings: z.array(portTrafficPolicy).max(4096).optional(),
  tunnel: tunnelSettings.optional(),
  proxyProtocol: proxyProtocol.optional(),
  retryBudget: retryBudget.optional(),
});
export type TrafficPolicy = z.infer<typeof trafficPolicy>;

/** Subset `{ name, labels, trafficPolicy }`. */
export const subset = z.strictObject({
  name: z.string(),
  labels: stringMap().optional(),
  trafficPolicy: trafficPolicy.optional(),
});
export type Subset = z.infer<typeof subset>;
