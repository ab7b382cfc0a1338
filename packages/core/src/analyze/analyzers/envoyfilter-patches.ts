import type { Resource } from '../../config/resource.js';
import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, isObj, num, obj, str } from '../read.js';
import { subjectOf } from './subject.js';

const ROUTE_LEVEL = new Set(['ROUTE_CONFIGURATION', 'HTTP_ROUTE']);
const REPLACEABLE = new Set(['NETWORK_FILTER', 'HTTP_FILTER', 'VIRTUAL_HOST']);

/**
 * The name istio compares a patch by: `patch.value.name`, else the listener
 * match's filter name. Istio takes the first through protobuf `Value.String()`
 * (`string_value:"x"`), so it never equals a bare filter name; the prefixes
 * below keep the two apart the same way.
 */
function instanceName(patch: Readonly<Record<string, unknown>>): string {
  const value = obj(patch['patch'])['value'];
  if (!isObj(value)) return '';
  if ('name' in value) return `value:${JSON.stringify(value['name'])}`;
  return str(obj(obj(obj(obj(patch['match'])['listener'])['filterChain'])['filter'])['name']);
}

function analyzeFilter(r: Resource, versioned: string[]): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const spec = obj(r.spec);
  const priority = num(spec['priority']);
  const patches = arr(spec['configPatches']);
  for (let i = 0; i < patches.length; i++) {
    const patch = obj(patches[i]);
    // istio stops at the first config patch without a `patch`.
    if (!isObj(patch['patch'])) break;
    const name = instanceName(patch);
    const applyTo = str(patch['applyTo']);
    const operation = str(obj(patch['patch'])['operation']);
    // istio points these at `patch.value`, a mapping, which its field map (scalars only,
    // pilot/pkg/config/file/store.go BuildFieldPathMap) has no line for: the message
    // carries the resource's line, so repeats within one EnvoyFilter collapse into one.
    const report = (type: (typeof MESSAGE_TYPES)[keyof typeof MESSAGE_TYPES]) =>
      out.push(newMessage(type, subjectOf(r), []));
    const relative = () => {
      if (priority !== 0) return;
      report(
        versioned.includes(name)
          ? MESSAGE_TYPES.EnvoyFilterUsesRelativeOperationWithProxyVersion
          : MESSAGE_TYPES.EnvoyFilterUsesRelativeOperation,
      );
    };
    if (operation === 'ADD') {
      if (ROUTE_LEVEL.has(applyTo)) report(MESSAGE_TYPES.EnvoyFilterUsesAddOperationIncorrectly);
    } else if (operation === 'REMOVE') {
      if (ROUTE_LEVEL.has(applyTo)) report(MESSAGE_TYPES.EnvoyFilterUsesRemoveOperationIncorrectly);
      else relative();
    } else if (operation === 'REPLACE') {
      if (!REPLACEABLE.has(applyTo)) report(MESSAGE_TYPES.EnvoyFilterUsesReplaceOperationIncorrectly);
      else relative();
    } else if (operation === 'INSERT_BEFORE' || operation === 'INSERT_AFTER') {
      relative();
    }
    if (str(obj(obj(patch['match'])['proxy'])['proxyVersion']) !== '') versioned.push(name);
  }
  return out;
}

/**
 * istio envoyfilter.EnvoyPatchAnalyzer: ADD / REMOVE on route-level patches
 * (IST0153 / IST0154), REPLACE outside filters and virtual hosts (IST0152), and
 * relative operations in a filter without a priority (IST0151), or IST0155 when
 * an earlier patch (in this or a previous EnvoyFilter) with a proxyVersion match
 * names the same object.
 */
export function analyzeEnvoyFilterPatches(ctx: AnalysisContext): AnalysisMessage[] {
  const versioned: string[] = [];
  return ctx.byKind('EnvoyFilter').flatMap((r) => analyzeFilter(r, versioned));
}
