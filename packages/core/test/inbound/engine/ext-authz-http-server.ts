import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import type { ExtensionProvider } from '../../../src/config/mesh-config.js';

/** What an ext_authz server was asked. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

/** Real ext_authz HTTP servers on loopback, closed after each test of the file that calls this. */
export function useExtAuthzServers(): {
  readonly servers: Server[];
  readonly authzServer: (
    handler: (req: IncomingMessage, res: ServerResponse) => void,
  ) => Promise<{ port: number; seen: Seen[] }>;
} {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(
      servers.splice(0).map(
        (s) =>
          new Promise<void>((r) => {
            s.closeAllConnections();
            s.close(() => r());
          }),
      ),
    );
  });
  return {
    servers,
    /** A real ext-authz HTTP server on loopback, answering with `handler`. */
    authzServer: async (handler) => {
      const seen: Seen[] = [];
      const server = createServer((req, res) => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
        handler(req, res);
      });
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return { port: (server.address() as AddressInfo).port, seen };
    },
  };
}

/** An `envoyExtAuthzHttp` provider named `default` on `port`, as Istio's ext-authz task configures it. */
export function extAuthzHttpProvider(port: number, extra: Record<string, unknown> = {}): ExtensionProvider {
  return {
    name: 'default',
    type: 'envoyExtAuthzHttp',
    config: {
      service: 'foo/127.0.0.1',
      port,
      pathPrefix: '/check',
      includeRequestHeadersInCheck: ['x-ext-authz', 'x-prefix-*'],
      headersToUpstreamOnAllow: ['x-user'],
      headersToDownstreamOnDeny: ['x-deny-reason'],
      ...extra,
    },
  };
}
