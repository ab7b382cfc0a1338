import { isIP } from 'node:net';
import { MeshletError } from '../errors/meshlet-error.js';
import { isDns1123Label } from '../config/validate/names.js';
import { localityFromLabels } from './locality.js';

/**
 * The workload a plan is compiled for: what a pod's proxy knows about itself
 * (POD_NAME, POD_NAMESPACE, SERVICE_ACCOUNT and the pod labels). Istio selects
 * VirtualService source matches, PeerAuthentication, RequestAuthentication,
 * AuthorizationPolicy and EnvoyFilter workload selectors against these.
 */
export interface WorkloadIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
  /**
   * `region/zone/subzone`, what istiod knows of the proxy's locality (its node's topology
   * labels on Kubernetes). Unset: read from `labels` (compile/locality.ts
   * `localityFromLabels`); absent when neither says.
   */
  readonly locality?: string;
  /**
   * The pod IP (Istio's injection sets `INSTANCE_IP` from `status.podIP`): the downstream
   * address a sidecar sees on its outbound listener, which `consistentHash.useSourceIp`
   * hashes (envoy hash_policy.cc IpHashMethod). Unset: see outbound/hash-key.ts `sourceAddress`.
   */
  readonly ip?: string;
}

function fail(message: string, details: Record<string, unknown>): never {
  throw new MeshletError('MESHLET_ERR_CONFIG_WORKLOAD', message, details);
}

/**
 * Checks a workload identity and returns a frozen copy. Throws
 * `MESHLET_ERR_CONFIG_WORKLOAD` naming the bad field when it is malformed.
 */
export function validateWorkload(input: unknown): WorkloadIdentity {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    fail('workload must be an object { name, namespace, serviceAccount, labels }', { workload: input });
  }
  const w = input as Record<string, unknown>;
  const name = w['name'];
  const namespace = w['namespace'];
  const serviceAccount = w['serviceAccount'] ?? 'default';
  const labels = w['labels'] ?? {};
  if (typeof name !== 'string' || name === '') fail('workload.name must be a non-empty string', { name });
  if (typeof namespace !== 'string' || !isDns1123Label(namespace)) {
    fail(`workload.namespace must be a DNS-1123 label (got ${JSON.stringify(namespace)})`, { namespace });
  }
  if (typeof serviceAccount !== 'string' || serviceAccount === '') {
    fail('workload.serviceAccount must be a non-empty string', { serviceAccount });
  }
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    fail('workload.labels must be an object of string values', { labels });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    if (typeof v !== 'string')
      fail(`workload.labels[${JSON.stringify(k)}] must be a string`, { label: k, value: v });
    out[k] = v;
  }
  const given = w['locality'];
  if (given !== undefined && typeof given !== 'string') {
    fail('workload.locality must be a string "region/zone/subzone"', { locality: given });
  }
  const locality = given !== undefined && given !== '' ? given : localityFromLabels(out);
  const ip = w['ip'];
  if (ip !== undefined && (typeof ip !== 'string' || isIP(ip) === 0)) {
    fail(`workload.ip must be an IPv4 or IPv6 address (got ${JSON.stringify(ip)})`, { ip });
  }
  const base = {
    name,
    namespace,
    serviceAccount,
    labels: Object.freeze(out),
    ...(ip !== undefined ? { ip } : {}),
  };
  return Object.freeze(locality === null ? base : { ...base, locality });
}

/** Kubernetes label selector semantics: every selector label present with an equal value. */
export function labelsMatch(
  selector: Readonly<Record<string, string>> | undefined | null,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (selector === undefined || selector === null) return true;
  for (const key in selector) {
    if (labels[key] !== selector[key]) return false;
  }
  return true;
}
