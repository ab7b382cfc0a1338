// The istio.io egress gateway task for HTTPS traffic
// (istio.io/latest/docs/tasks/traffic-management/egress/egress-gateway/): a ServiceEntry for
// edition.cnn.com's TLS port, the egress gateway's Service, and the Gateway (TLS passthrough),
// DestinationRule (subset cnn) and VirtualService (a tls rule for the mesh to the gateway, one
// for the gateway to the site) that send the application's TLS through the gateway.

export const EGRESS_HOST = 'istio-egressgateway.istio-system.svc.cluster.local';

export const CNN = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: cnn, namespace: default }
spec:
  hosts: [edition.cnn.com]
  ports:
  - { number: 443, name: tls, protocol: TLS }
  resolution: DNS
`;
export const EGRESS_SERVICE = `apiVersion: v1
kind: Service
metadata: { name: istio-egressgateway, namespace: istio-system }
spec:
  selector: { istio: egressgateway }
  ports: [{ name: http2, port: 80 }, { name: https, port: 443 }]
`;
export const THROUGH_EGRESS = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway, namespace: default }
spec:
  selector: { istio: egressgateway }
  servers:
  - port: { number: 443, name: tls, protocol: TLS }
    hosts: [edition.cnn.com]
    tls: { mode: PASSTHROUGH }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egressgateway-for-cnn, namespace: default }
spec:
  host: ${EGRESS_HOST}
  subsets: [{ name: cnn }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: direct-cnn-through-egress-gateway, namespace: default }
spec:
  hosts: [edition.cnn.com]
  gateways: [mesh, istio-egressgateway]
  tls:
  - match:
    - gateways: [mesh]
      port: 443
      sniHosts: [edition.cnn.com]
    route:
    - destination:
        host: ${EGRESS_HOST}
        subset: cnn
        port: { number: 443 }
  - match:
    - gateways: [istio-egressgateway]
      port: 443
      sniHosts: [edition.cnn.com]
    route:
    - destination:
        host: edition.cnn.com
        port: { number: 443 }
      weight: 100
`;
