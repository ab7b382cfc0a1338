import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { reportCodecRefusal } from '../inbound/codec-refusal-report.js';
import type { InboundDecision } from '../inbound/engine-types.js';
import { writeDenial } from '../inbound/node-deny.js';
import { answerCodecError, type ClientError } from '../inbound/server/codec-error-reply.js';
import { refusedNodeRequest } from '../inbound/server/refused-node-request.js';
import type { ServerHeaderNames } from '../config/mesh-config.js';
import type { MeshTelemetry } from '../telemetry/mesh-telemetry.js';

/**
 * Answers, as Envoy's codec does, what a gateway listener's HTTP parser refuses
 * (codec-error-reply.ts), reporting it as a gateway reports a codec refusal
 * (codec-refusal-report.ts).
 */
export function answerGatewayCodecErrors(
  server: { on(event: 'clientError', listener: (err: ClientError, socket: Socket) => void): unknown },
  serverName: () => ServerHeaderNames | null,
  telemetry: MeshTelemetry | null,
): void {
  server.on('clientError', (err, socket) => {
    const names = serverName();
    answerCodecError(err, socket, {
      server: names === null ? null : names.inbound,
      now: Date.now,
      onRefusal: telemetry === null ? undefined : (r) => reportCodecRefusal(telemetry, r, true),
    });
  });
}

/**
 * Answers a request the engine refused as the codec's (the 101st header, a transfer coding
 * Envoy does not implement) or the connection manager's before routing (HTTP/1.0) at a
 * gateway: the local reply itself, and the gateway's report of it. The router never sees it,
 * so it is not forwarded.
 */
export function refuseAtGatewayCodec(
  telemetry: MeshTelemetry | null,
  req: IncomingMessage,
  res: ServerResponse,
  d: Extract<InboundDecision, { allow: false }>,
): void {
  const start = Date.now();
  writeDenial(res, d);
  if (telemetry === null) return;
  res.once('finish', () =>
    reportCodecRefusal(
      telemetry,
      refusedNodeRequest(
        req,
        res,
        {
          refusal: { status: d.status, details: d.reason.responseCodeDetails ?? '', body: d.body },
          flags: d.flags,
        },
        // The connection manager's own refusals (HTTP/1.0) had the request line and headers.
        { peer: null, withRequest: d.reason.stage !== 'codec', startEpoch: start },
      ),
      true,
    ),
  );
}
