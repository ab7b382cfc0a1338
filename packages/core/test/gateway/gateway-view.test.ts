import { describe, expect, it } from 'vitest';
import type { MeshPlan, VirtualHost } from '../../src/compile/plan-types.js';
import { gatewayView } from '../../src/gateway/gateway-view.js';

// The route tables a gateway request is routed in: the port's merged tables (route name null)
// or one server's route configuration, where another server's virtual hosts are not found
// (the lookup answers with the no-route virtual host, 404 NR).

const vhost = {
  name: 'a.example.com:443',
  routeNames: ['https.443.https-a.gw-a.istio-system'],
} as unknown as VirtualHost;
const name = (v: MeshPlan, routeName: string | null) =>
  gatewayView(v, routeName).outbound.lookup('a.example.com', 443)?.name;
const plan = {
  outbound: { virtualHosts: [], lookup: () => null },
  gateway: { routes: { virtualHosts: [vhost], lookup: () => vhost } },
} as unknown as MeshPlan;

describe('gatewayView', () => {
  it("keeps the merged view (null) apart from a configuration no server has (''), whichever is asked first", () => {
    expect(name(plan, '')).toBe('blackhole:443');
    expect(name(plan, null)).toBe('a.example.com:443');
    expect(name(plan, 'https.443.https-a.gw-a.istio-system')).toBe('a.example.com:443');
    expect(name(plan, 'https.443.https-b.gw-b.istio-system')).toBe('blackhole:443');
  });
});
