import type { FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import { ANONYMOUS, type MeshletRequestContext } from '@meshlet/core';

declare module 'fastify' {
  interface FastifyRequest {
    /** meshlet's view of the caller: verified mTLS peer and JWT identity (null when absent). */
    meshlet: MeshletRequestContext;
  }
}

/** Options of the meshlet Fastify plugin. */
export interface MeshletFastifyOptions {
  /** Reserved for the mesh created with `createMesh` (inbound enforcement lands with issue #4). */
  readonly mesh?: unknown;
}

const plugin: FastifyPluginCallback<MeshletFastifyOptions> = (app, _options, done) => {
  // Decorate with a null default and assign per request: a shared object would leak between requests.
  app.decorateRequest('meshlet', null as unknown as MeshletRequestContext);
  app.addHook('onRequest', (request, _reply, next) => {
    request.meshlet = ANONYMOUS;
    next();
  });
  done();
};

/** `await app.register(meshlet, { mesh })` */
export const meshlet = fp(plugin, { name: '@meshlet/fastify', fastify: '5.x' });
export default meshlet;
