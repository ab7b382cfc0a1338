/**
 * Istio's samples/helloworld Service in the `sample` namespace, as the istio.io locality
 * load-balancing tasks deploy it; `extraSpec` adds indented `spec` lines.
 */
export function helloworldService(extraSpec = ''): string {
  return `
apiVersion: v1
kind: Service
metadata: { name: helloworld, namespace: sample }
spec:
  selector: { app: helloworld }
  ports: [{ name: http, port: 5000 }]
${extraSpec}`;
}

/** Its outbound cluster. */
export const HELLOWORLD_CLUSTER = 'outbound|5000||helloworld.sample.svc.cluster.local';
