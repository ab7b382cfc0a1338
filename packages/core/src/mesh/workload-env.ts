import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { WorkloadIdentity } from '../compile/workload.js';

/** Where the Kubernetes downward API mounts pod labels in Istio's sidecar injection template. */
export const PODINFO_LABELS = '/etc/podinfo/labels';

/**
 * Parses a downward-API labels file: one `key="value"` per line, values quoted as Go's
 * `%q` prints them (JSON-compatible for what label values may hold). Blank and
 * malformed lines are skipped.
 */
export function parseLabelsFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const quoted = line.slice(eq + 1);
    let value = quoted;
    if (quoted.startsWith('"') && quoted.endsWith('"') && quoted.length >= 2) {
      try {
        value = JSON.parse(quoted) as string;
      } catch {
        value = quoted.slice(1, -1);
      }
    }
    out[key] = value;
  }
  return out;
}

function readLabels(file: string): Record<string, string> {
  try {
    return parseLabelsFile(readFileSync(file, 'utf8'));
  } catch {
    return {}; // Not in a pod (or no downward API volume): no labels.
  }
}

/**
 * The workload a proxy would know from its pod: `POD_NAME` (else the host name),
 * `POD_NAMESPACE` (else `default`), `SERVICE_ACCOUNT` (else `default`), the
 * downward-API labels file and `INSTANCE_IP` (the pod IP, from `status.podIP` in Istio's
 * injection template; ignored unless an IP), each overridden by what `given` sets;
 * `given.locality` passes through (compile/workload.ts falls back to the labels' locality).
 */
export function workloadFromEnv(
  given: Partial<WorkloadIdentity> | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  labelsFile: string = PODINFO_LABELS,
): Partial<WorkloadIdentity> {
  const envOr = (name: string, fallback: string): string => {
    const v = env[name];
    return v !== undefined && v !== '' ? v : fallback;
  };
  return {
    name: given?.name ?? envOr('POD_NAME', hostname()),
    namespace: given?.namespace ?? envOr('POD_NAMESPACE', 'default'),
    serviceAccount: given?.serviceAccount ?? envOr('SERVICE_ACCOUNT', 'default'),
    labels: given?.labels ?? readLabels(labelsFile),
    // Else read from the labels (an `istio-locality` label in the downward-API file).
    ...(given?.locality !== undefined ? { locality: given.locality } : {}),
    ...ipOf(given?.ip, env['INSTANCE_IP']),
  };
}

function ipOf(given: string | undefined, instanceIp: string | undefined): { ip?: string } {
  if (given !== undefined) return { ip: given };
  return instanceIp !== undefined && isIP(instanceIp) !== 0 ? { ip: instanceIp } : {};
}
