import { z } from 'zod';
import { policyTargetReferences } from './security-common.js';

/**
 * Shapes of `networking.istio.io` EnvoyFilter (istio/api networking/v1alpha3/envoy_filter.proto).
 * Rules: envoy-filter-validate.ts; what meshlet applies: local-rate-limit-patches.ts.
 */

const uint32 = () => z.number().int().min(0).max(4294967295);

/** `EnvoyFilter.ApplyTo`. */
export const applyTo = z.enum([
  'INVALID',
  'LISTENER',
  'FILTER_CHAIN',
  'NETWORK_FILTER',
  'HTTP_FILTER',
  'ROUTE_CONFIGURATION',
  'VIRTUAL_HOST',
  'HTTP_ROUTE',
  'CLUSTER',
  'EXTENSION_CONFIG',
  'BOOTSTRAP',
  'LISTENER_FILTER',
]);
export type ApplyTo = z.infer<typeof applyTo>;

/** `EnvoyFilter.PatchContext`. */
export const patchContext = z.enum(['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY', 'WAYPOINT']);
export type PatchContext = z.infer<typeof patchContext>;

/** `EnvoyFilter.Patch.Operation`. */
export const patchOperation = z.enum([
  'INVALID',
  'MERGE',
  'ADD',
  'REMOVE',
  'INSERT_BEFORE',
  'INSERT_AFTER',
  'INSERT_FIRST',
  'REPLACE',
  'MERGE_AND_REPLACE_LIST',
]);
export type PatchOperation = z.infer<typeof patchOperation>;

const subFilterMatch = z.strictObject({ name: z.string().optional() });
const filterMatch = z.strictObject({ name: z.string().optional(), subFilter: subFilterMatch.optional() });

/** `EnvoyFilter.ListenerMatch`. */
export const listenerMatch = z.strictObject({
  portNumber: uint32().optional(),
  portName: z.string().optional(),
  filterChain: z
    .strictObject({
      name: z.string().optional(),
      sni: z.string().optional(),
      transportProtocol: z.string().optional(),
      applicationProtocols: z.string().optional(),
      filter: filterMatch.optional(),
      destinationPort: uint32().optional(),
      transportSocket: z.string().optional(),
    })
    .optional(),
  listenerFilter: z.string().optional(),
  name: z.string().optional(),
});
export type ListenerMatch = z.infer<typeof listenerMatch>;

/** `EnvoyFilter.RouteConfigurationMatch`. */
export const routeConfigurationMatch = z.strictObject({
  portNumber: uint32().optional(),
  portName: z.string().optional(),
  gateway: z.string().optional(),
  vhost: z
    .strictObject({
      name: z.string().optional(),
      domainName: z.string().optional(),
      route: z
        .strictObject({
          name: z.string().optional(),
          action: z.enum(['ANY', 'ROUTE', 'REDIRECT', 'DIRECT_RESPONSE']).optional(),
        })
        .optional(),
    })
    .optional(),
  name: z.string().optional(),
});
export type RouteConfigurationMatch = z.infer<typeof routeConfigurationMatch>;

/** `EnvoyFilter.ClusterMatch`. */
export const clusterMatch = z.strictObject({
  portNumber: uint32().optional(),
  service: z.string().optional(),
  subset: z.string().optional(),
  name: z.string().optional(),
});

/** `EnvoyFilter.WaypointMatch`. */
export const waypointMatch = z.strictObject({
  filter: filterMatch.optional(),
  route: z.strictObject({ name: z.string().optional() }).optional(),
  portNumber: uint32()
    .refine((p) => p > 0 && p <= 65535, { message: 'port must be between 1-65535' })
    .optional(),
});

/** `EnvoyFilter.EnvoyConfigObjectMatch`: context, proxy, and one object type. */
export const envoyConfigObjectMatch = z
  .strictObject({
    context: patchContext.optional(),
    proxy: z
      .strictObject({
        proxyVersion: z.string().optional(),
        metadata: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
    listener: listenerMatch.optional(),
    routeConfiguration: routeConfigurationMatch.optional(),
    cluster: clusterMatch.optional(),
    waypoint: waypointMatch.optional(),
  })
  .superRefine((m, ctx) => {
    // CRD: the object types are a oneof, and waypoint goes with context WAYPOINT only.
    const types = [m.listener, m.routeConfiguration, m.cluster, m.waypoint].filter(
      (v) => v !== undefined,
    ).length;
    if (types > 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'only one of listener, routeConfiguration, cluster or waypoint may be set',
      });
    }
    if ((m.context === 'WAYPOINT') !== (m.waypoint !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'only support waypointMatch when context is WAYPOINT' });
    }
  });
export type EnvoyConfigObjectMatch = z.infer<typeof envoyConfigObjectMatch>;

/** `EnvoyFilter.Patch`: `value` is free-form Envoy proto JSON. */
export const envoyFilterPatch = z.strictObject({
  operation: patchOperation.optional(),
  value: z.record(z.string(), z.unknown()).optional(),
  filterClass: z.enum(['UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS']).optional(),
});
export type EnvoyFilterPatch = z.infer<typeof envoyFilterPatch>;

/** `EnvoyFilter.EnvoyConfigObjectPatch`. */
export const envoyConfigObjectPatch = z.strictObject({
  applyTo: applyTo.optional(),
  match: envoyConfigObjectMatch.optional(),
  patch: envoyFilterPatch.optional(),
});
export type EnvoyConfigObjectPatch = z.infer<typeof envoyConfigObjectPatch>;

/** `networking.v1alpha3.WorkloadSelector` `{ labels }` (the EnvoyFilter/Sidecar form). */
export const envoyFilterWorkloadSelector = z.strictObject({
  labels: z
    .record(
      z.string(),
      z
        .string()
        .max(63)
        .refine((v) => !v.includes('*'), { message: 'wildcard is not supported in selector' }),
    )
    .refine((labels) => Object.keys(labels).length <= 256, {
      message: 'in body should have at most 256 properties',
    })
    .optional(),
});

/** `spec` of `networking.istio.io` EnvoyFilter. */
export const envoyFilterSpec = z
  .strictObject({
    workloadSelector: envoyFilterWorkloadSelector.optional(),
    targetRefs: policyTargetReferences().optional(),
    configPatches: z.array(envoyConfigObjectPatch).optional(),
    priority: z.number().int().min(-2147483648).max(2147483647).optional(),
    /** Removed from the proto (reserved `workload_labels`); accepted and ignored, with a warning. */
    workloadLabels: z.record(z.string(), z.string()).optional(),
    /** Removed from the proto (reserved `filters`, the pre-1.4 API); accepted and ignored, with a warning. */
    filters: z.array(z.unknown()).optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.workloadSelector !== undefined && spec.targetRefs !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'only one of targetRefs or workloadSelector can be set' });
    }
  });
export type EnvoyFilterSpec = z.infer<typeof envoyFilterSpec>;
