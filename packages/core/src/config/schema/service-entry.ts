import { z } from 'zod';
import { port } from '../validate/fields.js';
import { checkEntryShape, workloadEntryFields } from './workload-entry.js';

/** ServiceEntry `spec` (istio/api networking/v1alpha3/service_entry.proto), with the CRD's CEL rules. */

/** ServicePort `{ number, protocol, name, targetPort }`; `name` is the list-map key. */
export const servicePort = z.strictObject({
  number: port(),
  protocol: z.string().max(256).optional(),
  name: z.string().max(256),
  targetPort: port().optional(),
});
export type ServicePort = z.infer<typeof servicePort>;

/** A ServiceEntry endpoint: a WorkloadEntry with address or network. */
export const serviceEntryEndpoint = z
  .strictObject(workloadEntryFields)
  .superRefine((e, ctx) => checkEntryShape(e, ctx, true));
export type ServiceEntryEndpoint = z.infer<typeof serviceEntryEndpoint>;

const ports = z
  .array(servicePort)
  .max(256)
  .superRefine((list, ctx) => {
    const names = new Set<string>();
    const numbers = new Set<number>();
    let dupNumber = false;
    for (const [i, p] of list.entries()) {
      // `ports` is a list-map keyed by name, so the API server reports a duplicate name itself.
      if (names.has(p.name)) {
        ctx.addIssue({
          code: 'custom',
          message: `Duplicate value: {"name":${JSON.stringify(p.name)}}`,
          path: [i],
        });
      }
      names.add(p.name);
      if (numbers.has(p.number)) dupNumber = true;
      numbers.add(p.number);
    }
    if (dupNumber)
      ctx.addIssue({ code: 'custom', message: 'Invalid value: port number cannot be duplicated' });
  });

const selectorValue = z
  .string()
  .max(63)
  .refine((v) => !v.includes('*'), { message: 'wildcard is not supported in selector' });

export const serviceEntrySpec = z
  .strictObject({
    hosts: z
      .array(z.string().refine((h) => h !== '*', { message: 'hostname cannot be wildcard' }))
      .min(1)
      .max(256),
    addresses: z.array(z.string().max(64)).max(256).optional(),
    ports: ports.optional(),
    location: z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']).optional(),
    resolution: z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']).optional(),
    endpoints: z.array(serviceEntryEndpoint).max(4096).optional(),
    workloadSelector: z.strictObject({ labels: z.record(z.string(), selectorValue).optional() }).optional(),
    exportTo: z.array(z.string()).optional(),
    subjectAltNames: z.array(z.string()).optional(),
  })
  .superRefine((se, ctx) => {
    const resolution = se.resolution ?? 'NONE';
    if (se.workloadSelector !== undefined && se.endpoints !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'only one of WorkloadSelector or Endpoints can be set' });
    }
    if (
      (se.addresses ?? []).some((a) => a.includes('/')) &&
      resolution !== 'NONE' &&
      resolution !== 'STATIC'
    ) {
      ctx.addIssue({
        code: 'custom',
        message: 'CIDR addresses are allowed only for NONE/STATIC resolution types',
        path: ['addresses'],
      });
    }
    if (resolution === 'NONE' && se.endpoints !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'NONE mode cannot set endpoints', path: ['endpoints'] });
    }
    if (resolution === 'DNS_ROUND_ROBIN' && (se.endpoints?.length ?? 0) > 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'DNS_ROUND_ROBIN mode cannot have multiple endpoints',
        path: ['endpoints'],
      });
    }
  });
export type ServiceEntrySpec = z.infer<typeof serviceEntrySpec>;
