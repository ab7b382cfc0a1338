import type { SecretDump } from '../admin/secrets-dump.js';
import type { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { MeshPlan } from '../compile/plan-types.js';
import type { CertWatcher } from '../identity/cert-watcher.js';
import type { CertSource } from '../identity/types.js';
import type { MeshEvents } from '../mesh/types.js';
import type { Clock } from '../runtime/clock.js';
import type { GatewayListener, RequestListener } from './gateway-listener.js';
import { createGatewayServer, type GatewayServerOptions } from './gateway-server.js';
import { answerGatewayCodecErrors } from './gateway-codec-refusal.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';
import { followGatewayTls } from './gateway-tls-watch.js';

/** The mesh's parts `mesh.listenGateway` runs on. */
export interface ListenGatewayParts {
  readonly getPlan: () => MeshPlan;
  readonly certs: CertSource | null;
  /** The mounted workload certificates, when watched: ISTIO_MUTUAL servers follow their rotation. */
  readonly certWatcher: CertWatcher | null;
  readonly clock: Clock;
  readonly events: EventEmitter<MeshEvents>;
  /** The open gateway listeners, which `mesh.close()` closes. */
  readonly servers: Set<Server>;
  /** `mesh.gateway({ port })`. */
  readonly listener: (port: number) => RequestListener | GatewayListener;
  /** The mesh's telemetry, which reports what the listener's parser refuses. */
  readonly telemetry?: MeshTelemetry | null;
  /** What each open listener's certificates are, for the config dump (registered while open). */
  readonly secrets?: Set<() => readonly SecretDump[]>;
}

/**
 * `mesh.listenGateway`: the gateway's listener for one Gateway server port, listening, with
 * its certificates followed (gateway-tls-watch.ts) through credential file changes, config
 * reloads and workload certificate rotations until it closes.
 */
export async function listenGateway(
  parts: ListenGatewayParts,
  options: GatewayServerOptions,
): Promise<Server> {
  const handle = await createGatewayServer(parts.getPlan(), parts.certs, parts.listener, options);
  const { server } = handle;
  answerGatewayCodecErrors(
    server,
    () => parts.getPlan().meshConfig.proxyHeaders.server,
    parts.telemetry ?? null,
  );
  const follow = followGatewayTls({
    handle,
    getPlan: parts.getPlan,
    clock: parts.clock,
    onEvent: (e) => parts.events.emit('gatewayTls', e),
  });
  parts.events.on('reload', follow.trigger);
  const unsubscribe = parts.certWatcher?.onEvent((e) => {
    if (e.type === 'rotated') follow.trigger();
  });
  const secrets = handle.secrets;
  const stop = (): void => {
    parts.servers.delete(server);
    parts.secrets?.delete(secrets);
    follow.close();
    parts.events.off('reload', follow.trigger);
    unsubscribe?.();
  };
  parts.servers.add(server);
  parts.secrets?.add(secrets);
  server.once('close', stop);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.listenPort ?? handle.port, options.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    stop();
    throw err;
  }
  return server;
}
