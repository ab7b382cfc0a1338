import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import type { StaticEndpoint } from '../../src/compile/registry.js';
import { snapshotOf } from './helpers.js';

// A Kubernetes Service selects WorkloadEntries of its namespace as it selects pods
// (PILOT_ENABLE_K8S_SELECT_WORKLOAD_ENTRIES, default true: istio pilot/pkg/features/pilot.go;
// pilot/pkg/serviceregistry/kube/controller/controller.go serviceInstancesFromWorkloadInstances).

const client = { name: 'c', namespace: 'client-ns', serviceAccount: 'c', labels: { app: 'c' } };

function service(spec: string, ns = 'vm-ns'): string {
  return `
apiVersion: v1
kind: Service
metadata: { name: legacy, namespace: ${ns} }
spec:
${spec}
`;
}

function entry(name: string, spec: string, ns = 'vm-ns'): string {
  return `
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}
`;
}

const vm = entry(
  'vm-1',
  `  address: 10.9.0.1
  labels: { app: legacy, version: v1 }
  ports: { http: 8080 }
  serviceAccount: legacy-sa
  locality: us-east1/us-east1-b
  weight: 3
  network: vm-net`,
);

function endpoints(docs: string[], port = 80, extra?: Record<string, StaticEndpoint[]>) {
  const plan = compilePlan(snapshotOf(...docs), client, extra === undefined ? {} : { endpoints: extra });
  return plan.outbound.cluster(`outbound|${port}||legacy.vm-ns.svc.cluster.local`)?.endpoints;
}

describe('Kubernetes Service selecting WorkloadEntries', () => {
  it('makes a selected WorkloadEntry an endpoint with its address, port by name, labels, identity, locality, weight and network', () => {
    const svc = service(`  selector: { app: legacy }
  ports: [{ name: http, port: 80, targetPort: 9000 }]`);
    expect(endpoints([svc, vm])).toEqual([
      {
        address: '10.9.0.1',
        port: 8080,
        labels: { app: 'legacy', version: 'v1' },
        serviceAccount: 'legacy-sa',
        weight: 3,
        locality: 'us-east1/us-east1-b',
        network: 'vm-net',
      },
    ]);
  });

  it("uses the numeric targetPort, else the port, when the entry has no port of the Service port's name", () => {
    const bare = entry('vm-2', '  address: 10.9.0.2\n  labels: { app: legacy }');
    const withTarget = service(`  selector: { app: legacy }
  ports: [{ name: http, port: 80, targetPort: 9000 }]`);
    expect(endpoints([withTarget, bare])?.map((e) => e.port)).toEqual([9000]);
    const noTarget = service(`  selector: { app: legacy }
  ports: [{ name: http, port: 80 }]`);
    expect(endpoints([noTarget, bare])?.map((e) => e.port)).toEqual([80]);
  });

  it('looks a named targetPort up in the entry ports and leaves out an entry without it', () => {
    // istio util.go findServiceTargetPort: a named targetPort is explicit, so an entry
    // that does not declare it is skipped (controller.go serviceInstanceFromWorkloadInstance).
    const svc = service(`  selector: { app: legacy }
  ports: [{ name: web, port: 80, targetPort: http }]`);
    const bare = entry('vm-2', '  address: 10.9.0.2\n  labels: { app: legacy }');
    expect(endpoints([svc, vm, bare])?.map((e) => `${e.address}:${e.port}`)).toEqual(['10.9.0.1:8080']);
  });

  it('gives an entry an endpoint on every Service port', () => {
    const svc = service(`  selector: { app: legacy }
  ports: [{ name: http, port: 80 }, { name: grpc, port: 9090 }]`);
    expect(endpoints([svc, vm], 80)?.map((e) => e.port)).toEqual([8080]);
    expect(endpoints([svc, vm], 9090)?.map((e) => e.port)).toEqual([9090]);
  });

  it.each([
    ['labels that do not match', [vm.replace('app: legacy', 'app: other')]],
    ['another namespace', [entry('vm-x', '  address: 10.9.0.9\n  labels: { app: legacy }', 'other-ns')]],
    // Only an IP can back a Kubernetes Service (serviceentry conversion.go DNSServiceEntryOnly).
    ['a DNS name address', [entry('vm-dns', '  address: vm.example.com\n  labels: { app: legacy }')]],
  ])('leaves out an entry with %s', (_, docs) => {
    const svc = service(`  selector: { app: legacy }
  ports: [{ name: http, port: 80 }]`);
    expect(endpoints([svc, ...docs])).toEqual([]);
  });

  it('selects nothing for a Service without a selector or a headless one', () => {
    // Only ClientSideLB services with a selector take workload entries (controller.go).
    const noSelector = service('  ports: [{ name: http, port: 80 }]');
    expect(endpoints([noSelector, vm])).toEqual([]);
    const headless = service(`  clusterIP: None
  selector: { app: legacy }
  ports: [{ name: http, port: 80 }]`);
    expect(endpoints([headless, vm])).toEqual([]);
  });

  it('keeps the entries beside the static endpoints given for the pods', () => {
    const svc = service(`  selector: { app: legacy }
  ports: [{ name: http, port: 80 }]`);
    const pods = {
      'legacy.vm-ns.svc.cluster.local': [{ address: '10.0.0.5', port: 80, labels: { app: 'legacy' } }],
    };
    expect(endpoints([svc, vm], 80, pods)?.map((e) => `${e.address}:${e.port}`)).toEqual([
      '10.9.0.1:8080',
      '10.0.0.5:80',
    ]);
  });
});
