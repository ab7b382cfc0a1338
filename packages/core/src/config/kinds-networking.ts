import { defineKind, type KindDefinition } from './kind-definition.js';
import { destinationRuleSpec } from './schema/destination-rule.js';
import { validateDestinationRule } from './schema/destination-rule-validate.js';
import { gatewaySpec, validateGateway } from './schema/gateway.js';
import { serviceEntrySpec } from './schema/service-entry.js';
import { validateServiceEntry } from './schema/service-entry-validate.js';
import { sidecarSpec, validateSidecar } from './schema/sidecar.js';
import { virtualServiceSpec } from './schema/virtual-service.js';
import { validateVirtualService } from './schema/virtual-service-validate.js';
import { validateWorkloadEntry, workloadEntrySpec } from './schema/workload-entry.js';
import { validateWorkloadGroup, workloadGroupSpec } from './schema/workload-group.js';

const GROUP = 'networking.istio.io';
const VERSIONS = Object.freeze(['v1alpha3', 'v1beta1', 'v1']);

// The registry holds kinds of different spec types; each validator only ever sees its own kind's spec.
function erase<S>(def: KindDefinition<S>): KindDefinition {
  return def as unknown as KindDefinition;
}

/** The networking.istio.io kinds: VirtualService, DestinationRule, ServiceEntry, WorkloadEntry, Gateway (acted on), WorkloadGroup and Sidecar (validated, reported as unsupported). */
export const NETWORKING_KINDS: readonly KindDefinition[] = Object.freeze([
  erase(
    defineKind({
      kind: 'VirtualService',
      group: GROUP,
      versions: VERSIONS,
      spec: virtualServiceSpec,
      specRequired: true,
      validate: validateVirtualService,
      support: 'full',
    }),
  ),
  erase(
    defineKind({
      kind: 'DestinationRule',
      group: GROUP,
      versions: VERSIONS,
      spec: destinationRuleSpec,
      specRequired: true,
      validate: validateDestinationRule,
      support: 'full',
    }),
  ),
  erase(
    defineKind({
      kind: 'ServiceEntry',
      group: GROUP,
      versions: VERSIONS,
      spec: serviceEntrySpec,
      specRequired: true,
      validate: validateServiceEntry,
      support: 'full',
    }),
  ),
  erase(
    defineKind({
      kind: 'WorkloadEntry',
      group: GROUP,
      versions: VERSIONS,
      spec: workloadEntrySpec,
      specRequired: true,
      validate: validateWorkloadEntry,
      support: 'full',
    }),
  ),
  erase(
    defineKind({
      kind: 'Gateway',
      group: GROUP,
      versions: VERSIONS,
      spec: gatewaySpec,
      specRequired: true,
      validate: validateGateway,
      support: 'full',
    }),
  ),
  erase(
    defineKind({
      kind: 'WorkloadGroup',
      group: GROUP,
      versions: VERSIONS,
      spec: workloadGroupSpec,
      specRequired: true,
      validate: validateWorkloadGroup,
      support: 'unsupported',
    }),
  ),
  erase(
    defineKind({
      kind: 'Sidecar',
      group: GROUP,
      versions: VERSIONS,
      spec: sidecarSpec,
      specRequired: true,
      validate: validateSidecar,
      support: 'full',
    }),
  ),
]);
