import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { GatewayServerInfo, MeshPlan } from '../../src/compile/plan-types.js';
import { connectionRouteName } from '../../src/gateway/server-route.js';

// Which route configuration a gateway request uses: its HTTPS server's, by the connection's
// SNI (istiod: one RDS per TLS-terminating server, gateway.go gatewayRDSRouteName).

const server = (over: Partial<GatewayServerInfo>): GatewayServerInfo => ({
  gateway: { namespace: 'istio-system', name: 'gw' },
  port: 443,
  portName: 'https',
  protocol: 'HTTPS',
  hosts: ['*/a.example.com'],
  tlsMode: 'SIMPLE',
  httpsRedirect: false,
  terminatesTls: true,
  tls: { mode: 'SIMPLE', credentialName: 'a' },
  http: true,
  routeName: 'https.443.https.gw.istio-system',
  ...over,
});
const planWith = (servers: GatewayServerInfo[]) => ({ gateway: { servers } }) as unknown as MeshPlan;
const socket = (encrypted: boolean, servername?: string | false) =>
  ({ encrypted, servername }) as unknown as Socket;

describe('connectionRouteName', () => {
  const two = planWith([
    server({}),
    server({
      portName: 'https-b',
      hosts: ['./*.b.example.com'],
      routeName: 'https.443.https-b.gw.istio-system',
    }),
  ]);

  it("picks the server the SNI names: exact, wildcard; '' for a name none claims", () => {
    expect(connectionRouteName(two, 443, socket(true, 'a.example.com'))).toBe(
      'https.443.https.gw.istio-system',
    );
    expect(connectionRouteName(two, 443, socket(true, 'x.b.example.com'))).toBe(
      'https.443.https-b.gw.istio-system',
    );
    expect(connectionRouteName(two, 443, socket(true, 'c.example.com'))).toBe('');
    expect(connectionRouteName(two, 443, socket(true, false))).toBe('');
  });

  it('routes with every virtual host of the port on plain HTTP, and behind TLS the port does not terminate', () => {
    expect(connectionRouteName(two, 443, socket(false))).toBeNull();
    const http = planWith([
      server({
        port: 80,
        protocol: 'HTTP',
        tls: null,
        tlsMode: null,
        terminatesTls: false,
        routeName: 'http.80',
      }),
    ]);
    expect(connectionRouteName(http, 80, socket(true, 'a.example.com'))).toBeNull();
  });
});
