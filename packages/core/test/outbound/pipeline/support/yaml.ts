/** A VirtualService for reviews sending everything to `subset`, with extra rule fields (YAML, 4-space indented). */
export function reviewsVs(extra = '', subset = 'v1'): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route: [{ destination: { host: reviews, subset: ${subset} } }]
${extra}`;
}

/** Three reviews v1 pods, so retries can move to another host. */
export const threeV1 = {
  reviews: [1, 2, 3].map((i) => ({
    address: `10.0.1.${i}`,
    port: 9080,
    labels: { app: 'reviews', version: 'v1' },
  })),
};

/** A MESH_EXTERNAL ServiceEntry with a TCP port: the sidecar proxies its calls as TCP. */
export const mongoTcp = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: mongo, namespace: default }
spec:
  hosts: [mongo.example.com]
  location: MESH_EXTERNAL
  ports: [{ number: 27017, name: tcp-mongo, protocol: TCP }]
  resolution: DNS
`;
