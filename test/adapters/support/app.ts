import type { MeshletRequestContext } from '../../../packages/core/src/inbound/request-context.js';

/** The routes every test app serves (GET and POST), named after their path. */
export const ROUTES = ['/public', '/admin', '/headers', '/upload'] as const;
export type RouteName = (typeof ROUTES)[number];

/** What a handler answers: enough to tell which handler ran and what it saw. */
export interface Echo {
  readonly handler: RouteName;
  /** The URL the app routed on, as the handler reads it. */
  readonly url: string;
  readonly meshlet: MeshletRequestContext | null;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The request body the app parsed, or null. */
  readonly body: string | null;
}

/** What a server observed across a case: handlers run and request bodies parsed. */
export interface Observed {
  readonly handlers: RouteName[];
  bodiesRead: number;
}

export function newObserved(): Observed {
  return { handlers: [], bodiesRead: 0 };
}

/** The route a normalized URL reaches (what Fastify and Express match for these static routes). */
export function routeOf(url: string): RouteName | null {
  const path = url.split('?')[0]!;
  return (ROUTES as readonly string[]).includes(path) ? (path as RouteName) : null;
}
