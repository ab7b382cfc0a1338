import { z } from 'zod';
import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import { port, stringMap, uint } from '../validate/fields.js';
import { isIpAddress } from '../validate/names.js';
import {
  checkFqdn,
  checkPort,
  checkPortName,
  checkUnixAddress,
  validateLabels,
} from './networking-common-rules.js';

/** WorkloadEntry (istio/api networking/v1alpha3/workload_entry.proto), also ServiceEntry `endpoints[]`. */

const UNIX = 'unix://';
const PORT_NAME = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/** `address`: an IP, a DNS name or `unix://<absolute path or @abstract>` (CRD CEL rules). */
export const workloadAddress = z
  .string()
  .max(256)
  .superRefine((a, ctx) => {
    if (!a.startsWith(UNIX)) return;
    const first = a.slice(UNIX.length, UNIX.length + 1);
    if (first !== '/' && first !== '@') {
      ctx.addIssue({ code: 'custom', message: 'UDS must be an absolute path or abstract socket' });
    }
    if (a.endsWith('/')) ctx.addIssue({ code: 'custom', message: 'UDS may not be a dir' });
  });

/** `ports`: service port name -> endpoint port (CRD: names < 63 chars, DNS-label-like). */
export const workloadPorts = z.record(z.string(), port()).superRefine((ports, ctx) => {
  const bad = Object.keys(ports).filter((k) => !(k.length < 63 && PORT_NAME.test(k)));
  if (bad.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: `Invalid value: ${JSON.stringify(bad.join(', '))}: port name must be valid`,
    });
  }
});

/** The WorkloadEntry fields, shared with WorkloadGroup `template`. */
export const workloadEntryFields = {
  address: workloadAddress.optional(),
  ports: workloadPorts.optional(),
  labels: stringMap().optional(),
  network: z.string().max(2048).optional(),
  locality: z.string().max(2048).optional(),
  weight: uint().optional(),
  serviceAccount: z.string().max(253).optional(),
};

type EntryLike = { address?: string | undefined; network?: string | undefined; ports?: unknown };

/** The CRD rules on a whole entry: an address (or network), and no ports on a UDS. */
export function checkEntryShape(
  e: EntryLike,
  ctx: z.core.$RefinementCtx<EntryLike>,
  requireAddress: boolean,
): void {
  if (requireAddress && e.address === undefined && e.network === undefined) {
    ctx.addIssue({ code: 'custom', message: 'Address is required' });
  }
  if ((e.address ?? '').startsWith(UNIX) && e.ports !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'UDS may not include ports', path: ['ports'] });
  }
}

/** WorkloadEntry `spec` (and ServiceEntry endpoint). */
export const workloadEntrySpec = z
  .strictObject(workloadEntryFields)
  .superRefine((e, ctx) => checkEntryShape(e, ctx, true));
export type WorkloadEntrySpec = z.infer<typeof workloadEntrySpec>;

/**
 * `validateWorkloadEntry`: address form, port names and numbers, labels. `servicePorts`
 * is the owning ServiceEntry's port names (null for a standalone WorkloadEntry);
 * `allowFqdn` is false for STATIC ServiceEntry endpoints.
 */
export function validateWorkloadEntryAt(
  we: WorkloadEntrySpec,
  path: FieldPath,
  ctx: ValidationContext,
  servicePorts: ReadonlySet<string> | null,
  allowFqdn: boolean,
): void {
  const addr = we.address ?? '';
  if (addr === '') {
    if ((we.network ?? '') === '') {
      ctx.error([...path, 'address'], 'address is required');
      return;
    }
    ctx.warn([...path, 'address'], `address is unset with network ${JSON.stringify(we.network)}`);
  }
  const unix = addr.startsWith(UNIX);
  if (unix) {
    const problem = checkUnixAddress(addr.slice(UNIX.length));
    if (problem !== null) ctx.error([...path, 'address'], problem);
    if (Object.keys(we.ports ?? {}).length > 0)
      ctx.error([...path, 'ports'], `unix endpoint ${addr} must not include ports`);
  } else if (addr !== '' && !isIpAddress(addr)) {
    if (!allowFqdn)
      ctx.error([...path, 'address'], `endpoint address ${JSON.stringify(addr)} is not a valid IP address`);
    else if (checkFqdn(addr) !== null) {
      ctx.error(
        [...path, 'address'],
        `endpoint address ${JSON.stringify(addr)} is not a valid FQDN or an IP address`,
      );
    }
  }
  for (const [name, p] of Object.entries(we.ports ?? {})) {
    if (servicePorts !== null && !servicePorts.has(name)) {
      ctx.error([...path, 'ports', name], `endpoint port ${p} is not defined by the service entry`);
    }
    const nameProblem = checkPortName(name);
    if (nameProblem !== null) ctx.error([...path, 'ports', name], nameProblem);
    const portProblem = checkPort(p);
    if (portProblem !== null) ctx.error([...path, 'ports', name], portProblem);
  }
  validateLabels(we.labels, [...path, 'labels'], ctx);
  if (unix && servicePorts !== null && servicePorts.size !== 1) {
    ctx.error(path, 'exactly 1 service port required for unix endpoints');
  }
}

/** Cross-field webhook rules of a WorkloadEntry (`ValidateWorkloadEntry`, FQDN addresses allowed). */
export function validateWorkloadEntry(spec: WorkloadEntrySpec, ctx: ValidationContext): void {
  validateWorkloadEntryAt(spec, ['spec'], ctx, null, true);
}
