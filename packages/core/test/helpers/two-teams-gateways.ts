/**
 * Two teams' Gateways on the ingress gateway's port 443 (`gw-a`, `gw-b` in istio-system), each
 * an HTTPS server for its own host (`a.example.com`, `b.example.com`, credential `cert-<team>`)
 * with its own VirtualService to httpbin:8000, and httpbin's Service. With `rewrite`, each
 * team's route rewrites the path to `/team-<team>`, so a reply says which route served it.
 */
export function twoTeamsGateways(options: { readonly rewrite: boolean }): string {
  const route = (t: string) =>
    options.rewrite
      ? `  - rewrite: { uri: /team-${t} }
    route: [{ destination: { port: { number: 8000 }, host: httpbin } }]`
      : `  - route: [{ destination: { port: { number: 8000 }, host: httpbin } }]`;
  const teams = ['a', 'b']
    .map(
      (t) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw-${t}, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 443, name: https-${t}, protocol: HTTPS }
    tls: { mode: SIMPLE, credentialName: cert-${t} }
    hosts: [${t}.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: vs-${t}, namespace: default }
spec:
  hosts: [${t}.example.com]
  gateways: [istio-system/gw-${t}]
  http:
${route(t)}
---
`,
    )
    .join('');
  return `${teams}apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: default }
spec: { ports: [{ name: http, port: 8000 }] }
`;
}
