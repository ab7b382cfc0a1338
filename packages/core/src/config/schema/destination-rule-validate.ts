import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import { isIpAddress } from '../validate/names.js';
import {
  checkFqdn,
  checkHostname,
  checkPort,
  checkSubsetName,
  deprecatedReplaced,
  validateAlphaWorkloadSelector,
  validateExportTo,
  validateLabels,
} from './networking-common-rules.js';
import type {
  ClientTLSSettings,
  ConnectionPoolSettings,
  DestinationRuleSpec,
  LoadBalancerSettings,
  OutlierDetection,
  TrafficPolicy,
} from './destination-rule.js';
import { validateLocalityLbSetting, validateZoneAwareLbSetting } from './destination-rule-locality.js';
import { warnUnappliedTrafficPolicy } from './destination-rule-unapplied.js';

/**
 * DestinationRule webhook rules (istio pkg/config/validation/validation.go
 * `ValidateDestinationRule`, `validateTrafficPolicy`; spec/traffic.md §2).
 */

function validateOutlier(o: OutlierDetection | undefined, path: FieldPath, ctx: ValidationContext): void {
  if (o === undefined) return;
  if (o.consecutiveErrors !== undefined && o.consecutiveErrors !== 0) {
    ctx.warn(
      [...path, 'consecutiveErrors'],
      deprecatedReplaced(
        'OutlierDetection.consecutiveErrors',
        'consecutiveGatewayErrors or consecutive5xxErrors',
      ),
      'IST0002',
    );
  }
  if (o.splitExternalLocalOriginErrors !== true && (o.consecutiveLocalOriginFailures ?? 0) > 0) {
    ctx.error(
      [...path, 'consecutiveLocalOriginFailures'],
      'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
    );
  }
  for (const key of ['maxEjectionPercent', 'minHealthPercent'] as const) {
    const v = o[key] ?? 0;
    if (v < 0 || v > 100) ctx.error([...path, key], `percentage ${v} is not in range 0..100`);
  }
}

/** `validateConnectionPool` (also used by Sidecar). */
export function validateConnectionPool(
  cp: ConnectionPoolSettings | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (cp === undefined) return;
  if (cp.http === undefined && cp.tcp === undefined) {
    ctx.error(path, 'connection pool must have at least one field');
    return;
  }
  const http = cp.http;
  if (http !== undefined) {
    if (http.h2UpgradePolicy === 'UPGRADE' && http.useClientProtocol === true) {
      ctx.error(
        [...path, 'http', 'useClientProtocol'],
        'use client protocol must not be true when H2UpgradePolicy is UPGRADE',
      );
    }
    const ka = http.http2KeepAlive;
    if (ka !== undefined) {
      if (ka.interval === undefined)
        ctx.error([...path, 'http', 'http2KeepAlive', 'interval'], 'http2 keepalive interval is required');
      if (ka.timeout === undefined)
        ctx.error([...path, 'http', 'http2KeepAlive', 'timeout'], 'http2 keepalive timeout is required');
    }
  }
}

// Envoy's primality test, so maglev table sizes are judged exactly as Envoy does.
function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  const limit = Math.floor(Math.sqrt(x));
  for (let f = 3; f <= limit; f += 2) if (x % f === 0) return false;
  return true;
}

function validateLoadBalancer(
  lb: LoadBalancerSettings | undefined,
  outlier: OutlierDetection | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (lb === undefined) return;
  const ch = lb.consistentHash;
  if (ch !== undefined) {
    const chPath: FieldPath = [...path, 'consistentHash'];
    if (ch.httpCookie !== undefined && ch.httpCookie.name === '') {
      ctx.error([...chPath, 'httpCookie', 'name'], 'name required for HttpCookie');
    }
    const names = new Set<string>();
    for (const [i, attr] of (ch.httpCookie?.attributes ?? []).entries()) {
      const at: FieldPath = [...chPath, 'httpCookie', 'attributes', i, 'name'];
      if (attr.name === '') ctx.error(at, 'cookie attribute name cannot be empty');
      else if (names.has(attr.name)) ctx.error(at, `duplicate cookie attribute name: ${attr.name}`);
      else names.add(attr.name);
    }
    if ((ch.minimumRingSize ?? 0) !== 0) {
      ctx.warn(
        [...chPath, 'minimumRingSize'],
        deprecatedReplaced('ConsistentHashLB.minimumRingSize', 'ConsistentHashLB.ringHash.minimumRingSize'),
        'IST0002',
      );
      if (ch.ringHash !== undefined || ch.maglev !== undefined) {
        ctx.error(
          [...chPath, 'minimumRingSize'],
          'only one of MinimumRingSize or Maglev/Ringhash can be specified',
        );
      }
    }
    if (ch.maglev !== undefined) {
      const size = ch.maglev.tableSize ?? 0;
      const at: FieldPath = [...chPath, 'maglev', 'tableSize'];
      if (size === 0) ctx.error(at, 'tableSize must be set for maglev');
      if (size >= 5000011) ctx.error(at, 'tableSize must be less than 5000011 for maglev');
      if (!isPrime(size)) ctx.error(at, 'tableSize must be a prime number for maglev');
    }
  }
  if (lb.localityLbSetting !== undefined && lb.zoneAwareLbSetting !== undefined) {
    ctx.error(path, 'only one of localityLbSetting and zoneAwareLbSetting can be set');
  }
  validateLocalityLbSetting(lb.localityLbSetting, outlier, [...path, 'localityLbSetting'], ctx);
  validateZoneAwareLbSetting(lb.zoneAwareLbSetting, outlier, [...path, 'zoneAwareLbSetting'], ctx);
  const warm = lb.warmup;
  if (warm?.aggression !== undefined && warm.aggression <= 0) {
    ctx.error([...path, 'warmup', 'aggression'], 'aggression should be greater than 0');
  }
}

/** `agent.ValidateTLS` for client TLS settings. */
function validateClientTls(
  tls: ClientTLSSettings | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (tls === undefined) return;
  const cred = tls.credentialName ?? '';
  if (cred.startsWith('configmap://')) {
    const rest = cred.slice('configmap://'.length).split('/');
    const ns = rest.length === 2 ? rest[0] : ctx.namespace;
    if (rest.length > 2 || rest.some((s) => s === '')) {
      ctx.error(
        [...path, 'credentialName'],
        `invalid configmap:// credentialName: invalid resource name ${JSON.stringify(cred)}`,
      );
    } else if (ns !== ctx.namespace) {
      ctx.error(
        [...path, 'credentialName'],
        `invalid configmap:// credentialName: namespace must match the configuration namespace ${JSON.stringify(ctx.namespace)}`,
      );
    }
  }
  const set = (s: string | undefined): boolean => s !== undefined && s !== '';
  if (tls.insecureSkipVerify === true) {
    if (
      tls.mode === 'SIMPLE' &&
      (set(tls.caCertificates) || cred !== '' || tls.subjectAltNames !== undefined)
    ) {
      ctx.error(
        path,
        'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true',
      );
    }
    if (tls.mode === 'MUTUAL' && (set(tls.caCertificates) || tls.subjectAltNames !== undefined)) {
      ctx.error(path, 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true');
    }
  }
  if ((tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL') && cred !== '') {
    if (set(tls.clientCertificate) || set(tls.caCertificates) || set(tls.privateKey) || set(tls.caCrl)) {
      ctx.error(
        path,
        'cannot specify client certificates or CA certificate or CA CRL If credentialName is set',
      );
    }
    return;
  }
  if (tls.mode === 'MUTUAL') {
    if (!set(tls.clientCertificate))
      ctx.error([...path, 'clientCertificate'], 'client certificate required for mutual tls');
    if (!set(tls.privateKey)) ctx.error([...path, 'privateKey'], 'private key required for mutual tls');
  }
}

/** `validateTrafficPolicy` (top level and subsets). */
export function validateTrafficPolicy(
  tp: TrafficPolicy | undefined,
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (tp === undefined) return;
  if (Object.values(tp).every((v) => v === undefined)) {
    ctx.error(path, 'traffic policy must have at least one field');
    return;
  }
  if (tp.tunnel !== undefined && tp.proxyProtocol !== undefined) {
    ctx.error(path, 'tunnel and proxyProtocol must not be set together');
    return;
  }
  validateOutlier(tp.outlierDetection, [...path, 'outlierDetection'], ctx);
  validateConnectionPool(tp.connectionPool, [...path, 'connectionPool'], ctx);
  validateLoadBalancer(tp.loadBalancer, tp.outlierDetection, [...path, 'loadBalancer'], ctx);
  validateClientTls(tp.tls, [...path, 'tls'], ctx);
  warnUnappliedTrafficPolicy(tp, path, ctx);
  for (const [i, pl] of (tp.portLevelSettings ?? []).entries()) {
    const at: FieldPath = [...path, 'portLevelSettings', i];
    if (pl.port === undefined) ctx.error(at, 'portTrafficPolicy must have valid port');
    if (
      pl.outlierDetection === undefined &&
      pl.connectionPool === undefined &&
      pl.loadBalancer === undefined &&
      pl.tls === undefined
    ) {
      ctx.error(at, 'port traffic policy must have at least one field');
      continue;
    }
    validateOutlier(pl.outlierDetection, [...at, 'outlierDetection'], ctx);
    validateConnectionPool(pl.connectionPool, [...at, 'connectionPool'], ctx);
    validateLoadBalancer(pl.loadBalancer, pl.outlierDetection, [...at, 'loadBalancer'], ctx);
    validateClientTls(pl.tls, [...at, 'tls'], ctx);
    warnUnappliedTrafficPolicy(pl, at, ctx);
  }
  const tunnel = tp.tunnel;
  if (tunnel !== undefined) {
    const proto = tunnel.protocol ?? '';
    if (proto !== '' && proto !== 'CONNECT' && proto !== 'POST') {
      ctx.error([...path, 'tunnel', 'protocol'], 'tunnel protocol must be "CONNECT" or "POST"');
    }
    const fqdn = checkFqdn(tunnel.targetHost);
    if (fqdn !== null && !isIpAddress(tunnel.targetHost)) {
      ctx.error(
        [...path, 'tunnel', 'targetHost'],
        `tunnel target host must be valid FQDN or IP address: ${fqdn}; ${tunnel.targetHost} is not a valid IP`,
      );
    }
    const port = checkPort(tunnel.targetPort);
    if (port !== null) ctx.error([...path, 'tunnel', 'targetPort'], `tunnel target port is invalid: ${port}`);
  }
}

/** Cross-field webhook rules of a DestinationRule. */
export function validateDestinationRule(spec: DestinationRuleSpec, ctx: ValidationContext): void {
  const hostProblem = checkHostname(spec.host);
  if (hostProblem !== null) ctx.error(['spec', 'host'], hostProblem);
  validateTrafficPolicy(spec.trafficPolicy, ['spec', 'trafficPolicy'], ctx);
  const names = new Set<string>();
  for (const [i, s] of (spec.subsets ?? []).entries()) {
    const at: FieldPath = ['spec', 'subsets', i];
    if (names.has(s.name)) ctx.error([...at, 'name'], `duplicate subset names: ${s.name}`);
    names.add(s.name);
    const nameProblem = checkSubsetName(s.name);
    if (nameProblem !== null) ctx.error([...at, 'name'], nameProblem);
    validateLabels(s.labels, [...at, 'labels'], ctx);
    validateTrafficPolicy(s.trafficPolicy, [...at, 'trafficPolicy'], ctx);
  }
  const selector = spec.workloadSelector;
  validateExportTo(spec.exportTo, ['spec', 'exportTo'], ctx, { drWithSelector: selector !== undefined });
  if (selector !== undefined) {
    const empty = validateAlphaWorkloadSelector(
      selector.matchLabels,
      ['spec', 'workloadSelector', 'matchLabels'],
      ctx,
    );
    if (empty) ctx.warn(['spec', 'workloadSelector'], 'workload selector specified without labels');
  }
}
