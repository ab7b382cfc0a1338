import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import {
  applyRequestHeaderEdits,
  decideNodeRequest,
  inboundHandleFrom,
  isUpgradeRequest,
  takeUpgradeDecision,
  type InboundDecision,
  type InboundHandle,
  type MeshletRequestContext,
} from '@meshlet/core';
import { installPreRouting, takePreRoutingOutcome } from './pre-routing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** meshlet's view of the caller: verified mTLS peer and JWT identity (null when absent). */
    meshlet: MeshletRequestContext;
  }
}

/** Options of the meshlet Fastify plugin. */
export interface MeshletFastifyOptions {
  /** The mesh from `createMesh` (or anything with an `inbound` handle): decides every request. */
  readonly mesh: { readonly inbound: InboundHandle };
}

const NO_HEAD = Buffer.alloc(0);

/** Body of the 400 sent when a request reached Fastify un-decided and its path is not normalized. */
export const NOT_NORMALIZED_BODY = 'meshlet: request path is not normalized';

/**
 * A refused upgrade (a WebSocket plugin routes it through Fastify on the connection node
 * handed over): the connection closes after the reply, as the mesh server's guard closes it;
 * Envoy never completes an upgrade request, so cannot keep its connection. Nobody else would
 * end the handed-over socket.
 */
function closeAfterRefusedUpgrade(reply: FastifyReply): void {
  const raw = reply.raw;
  const req = reply.request.raw;
  // node calls it an upgrade only when an `upgrade` listener waits for it; Envoy, by its headers.
  if ((req as { upgrade?: boolean }).upgrade !== true && !isUpgradeRequest(req.headers)) return;
  raw.shouldKeepAlive = false;
  raw.once('finish', () => raw.socket?.end());
}

function deny(reply: FastifyReply, decision: Extract<InboundDecision, { allow: false }>): FastifyReply {
  closeAfterRefusedUpgrade(reply);
  reply.code(decision.status);
  reply.headers(decision.headers);
  if (reply.getHeader('content-type') === undefined) reply.type('text/plain');
  reply.send(decision.body);
  // A refusal that closes the connection (the codec's) ends it as soon as the reply is out:
  // node may still be parsing the request's body, and Fastify's clientErrorHandler writes
  // its own 400 after a reply on a socket still writable.
  if (decision.headers['connection'] === 'close' && reply.raw.writableEnded) reply.raw.socket?.end();
  return reply;
}

const plugin: FastifyPluginCallback<MeshletFastifyOptions> = (app: FastifyInstance, options, done) => {
  let handle: InboundHandle;
  try {
    handle = inboundHandleFrom(options, '@meshlet/fastify');
  } catch (error) {
    done(error as Error);
    return;
  }
  const preRouted = installPreRouting(app.server, handle);
  // Decorate with a null default and assign per request: a shared object would leak between requests.
  app.decorateRequest('meshlet', null as unknown as MeshletRequestContext);
  const finish = (request: FastifyRequest, reply: FastifyReply, decision: InboundDecision): boolean => {
    if (!decision.allow) {
      deny(reply, decision);
      return false;
    }
    applyRequestHeaderEdits(request.raw, decision.removeHeaders, decision.setHeaders);
    reply.headers(decision.responseHeaders);
    request.meshlet = decision.context;
    handle.forwarded?.(reply.raw);
    return true;
  };
  // onRequest runs before body parsing, so a denied request's body is never read. A
  // callback hook: the pre-routed common case continues synchronously, without the
  // promise and microtask an async hook costs Fastify on every request.
  app.addHook('onRequest', (request, reply, done) => {
    // An upgrade the mesh server allowed before handing it on (a WebSocket plugin then
    // routes it through Fastify): decided once, its edits already made.
    const upgraded = takeUpgradeDecision(request.raw);
    if (upgraded?.allow === true) {
      request.meshlet = upgraded.context;
      done();
      return;
    }
    const outcome = takePreRoutingOutcome(request.raw);
    if (outcome === undefined) {
      // Without the pre-routing listener the handler cannot be wrapped in the trace context;
      // the request is still measured, traced and logged.
      decideNodeRequest(
        handle,
        request.raw,
        reply.raw,
        (decision, observation) => {
          // Fastify already routed on the raw URL (inject(), or a server whose requests do
          // not arrive as 'request' events). Serving it would let the app route on a path
          // authorization never checked, so refuse it as Envoy refuses paths it cannot normalize.
          if (decision.allow && decision.url !== request.raw.url) {
            closeAfterRefusedUpgrade(reply);
            reply.code(400).type('text/plain').send(NOT_NORMALIZED_BODY);
          } else if (finish(request, reply, decision)) {
            // An upgrade Fastify routes itself (@fastify/websocket on Fastify's own server):
            // reported as its stream when the connection closes. What node read past its
            // head went to the WebSocket plugin, not here.
            if (decision.allow && (request.raw as { upgrade?: boolean }).upgrade === true)
              observation?.upgraded?.(request.raw.socket, NO_HEAD);
            done();
          }
        },
        (error: unknown) => done(error as Error),
      );
    } else if ('error' in outcome) {
      done(outcome.error as Error);
    } else if (finish(request, reply, outcome.decision)) done();
  });
  // Keep the documented guarantee visible in logs when it had to fall back.
  if (!preRouted)
    app.log.warn(
      '@meshlet/fastify: no request listener to decide before routing; un-normalized paths get 400',
    );
  done();
};

/**
 * `await app.register(meshlet, { mesh })`: enforces the mesh's inbound policy
 * (PeerAuthentication identity, RequestAuthentication, AuthorizationPolicy, local rate
 * limits) on every request of the Fastify instance, before routing, and sets
 * `request.meshlet`. Register it first, at the root.
 */
export const meshlet = fp(plugin, { name: '@meshlet/fastify', fastify: '5.x' });
