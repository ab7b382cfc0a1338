import type { Resource } from '../../config/resource.js';
import type { Subject } from '../message.js';

export function subjectOf(r: Resource): Subject {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name, origin: r.origin };
}
