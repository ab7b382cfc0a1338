import type { WorkloadIdentity } from '../compile/workload.js';

/** Envoy's server states (admin `/server_info` `state`). */
export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';

export interface ServerInfoInput {
  readonly version: string;
  readonly workload: WorkloadIdentity;
  readonly startedAt: number;
  readonly now: number;
  readonly state: ServerState;
  readonly configHash: string;
}

/** `/server_info` as JSON, in the shape of Envoy's `ServerInfo` proto (admin/v3/server_info.proto). */
export interface ServerInfo {
  readonly version: string;
  readonly state: ServerState;
  /** Protobuf Duration JSON: `"<seconds>s"`. */
  readonly uptime_current_epoch: string;
  readonly uptime_all_epochs: string;
  readonly node: {
    /** `<name>.<namespace>`, the NAME istioctl proxy-status prints. */
    readonly id: string;
    /** `<app label or name>.<namespace>`, as Istio's `ISTIO_META_CLUSTER` service cluster. */
    readonly cluster: string;
    readonly metadata: {
      readonly NAMESPACE: string;
      readonly WORKLOAD_NAME: string;
      readonly SERVICE_ACCOUNT: string;
      readonly LABELS: Readonly<Record<string, string>>;
      /** The content hash of the configuration in force (meshlet's stand-in for istiod's version). */
      readonly CONFIG_HASH: string;
    };
  };
}

/** Builds `/server_info`. */
export function serverInfo(input: ServerInfoInput): ServerInfo {
  const w = input.workload;
  const uptime = `${Math.max(0, Math.floor((input.now - input.startedAt) / 1000))}s`;
  return {
    version: input.version,
    state: input.state,
    uptime_current_epoch: uptime,
    uptime_all_epochs: uptime,
    node: {
      id: `${w.name}.${w.namespace}`,
      cluster: `${w.labels['app'] ?? w.name}.${w.namespace}`,
      metadata: {
        NAMESPACE: w.namespace,
        WORKLOAD_NAME: w.name,
        SERVICE_ACCOUNT: w.serviceAccount,
        LABELS: w.labels,
        CONFIG_HASH: input.configHash,
      },
    },
  };
}
