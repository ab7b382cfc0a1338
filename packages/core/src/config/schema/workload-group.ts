import { z } from 'zod';
import type { ValidationContext } from '../validate/context.js';
import { port, stringMap } from '../validate/fields.js';
import { atMostOne } from './networking-common.js';
import { validateLabels } from './networking-common-rules.js';
import { checkEntryShape, workloadEntryFields } from './workload-entry.js';

/** WorkloadGroup `spec` (istio/api networking/v1alpha3/workload_group.proto). */

const PROBE_HEADER_NAME = /^[-_A-Za-z0-9]+$/;
const nonNegative = z.number().int().min(0);

/** HTTPHealthCheckConfig. */
export const httpHealthCheck = z.strictObject({
  path: z.string().optional(),
  port: port(),
  host: z.string().optional(),
  scheme: z
    .string()
    .refine((s) => s === '' || s === 'HTTP' || s === 'HTTPS', {
      message: 'scheme must be one of [HTTP, HTTPS]',
    })
    .optional(),
  httpHeaders: z
    .array(
      z.strictObject({
        name: z
          .string()
          .regex(PROBE_HEADER_NAME, { message: `in body should match '${PROBE_HEADER_NAME.source}'` })
          .optional(),
        value: z.string().optional(),
      }),
    )
    .optional(),
});

/** ReadinessProbe: one of `httpGet`, `tcpSocket`, `exec`, `grpc`. */
export const readinessProbe = z
  .strictObject({
    initialDelaySeconds: nonNegative.optional(),
    timeoutSeconds: nonNegative.optional(),
    periodSeconds: nonNegative.optional(),
    successThreshold: nonNegative.optional(),
    failureThreshold: nonNegative.optional(),
    httpGet: httpHealthCheck.optional(),
    tcpSocket: z.strictObject({ host: z.string().optional(), port: port() }).optional(),
    exec: z.strictObject({ command: z.array(z.string().min(1)) }).optional(),
    grpc: z.strictObject({ port: port().optional(), service: z.string().optional() }).optional(),
  })
  .superRefine(atMostOne(['httpGet', 'tcpSocket', 'exec', 'grpc']));
export type ReadinessProbe = z.infer<typeof readinessProbe>;

export const workloadGroupSpec = z.strictObject({
  metadata: z
    .strictObject({ labels: stringMap().optional(), annotations: stringMap().optional() })
    .optional(),
  template: z.strictObject(workloadEntryFields).superRefine((e, ctx) => checkEntryShape(e, ctx, false)),
  probe: readinessProbe.optional(),
});
export type WorkloadGroupSpec = z.infer<typeof workloadGroupSpec>;

/** Cross-field webhook rules of a WorkloadGroup (`ValidateWorkloadGroup`, `validateReadinessProbe`). */
export function validateWorkloadGroup(spec: WorkloadGroupSpec, ctx: ValidationContext): void {
  validateLabels(spec.metadata?.labels, ['spec', 'metadata', 'labels'], ctx);
  const probe = spec.probe;
  if (probe === undefined) return;
  if (probe.exec !== undefined && probe.exec.command.length === 0) {
    ctx.error(['spec', 'probe', 'exec', 'command'], 'exec.command is required');
  }
  if (probe.grpc !== undefined) {
    // validateReadinessProbe has no gRPC case, so the webhook rejects it as unknown.
    ctx.error(['spec', 'probe', 'grpc'], 'unknown health check method *networking.ReadinessProbe_Grpc');
  } else if (probe.httpGet === undefined && probe.tcpSocket === undefined && probe.exec === undefined) {
    ctx.error(['spec', 'probe'], 'unknown health check method <nil>');
  }
}
