import type { InboundHandle } from '../../../packages/core/src/inbound/handle.js';
import { compilePlan } from '../../../packages/core/src/compile/compile-plan.js';
import { loadConfigText } from '../../../packages/core/src/config/load.js';
import { createInboundEngine } from '../../../packages/core/src/inbound/engine.js';
import { createJwtAuthenticator } from '../../../packages/core/src/inbound/jwt/authenticator.js';
import type { InboundEngine } from '../../../packages/core/src/inbound/engine-types.js';
import { createManualClock } from '../../../packages/core/src/runtime/clock.js';
import { seededRandom } from '../../../packages/core/src/runtime/random.js';
import { SCENARIOS, type ScenarioName } from './scenarios.js';
import { LOCAL_PEER } from '../cases.js';

/** A scenario's inbound handle plus its teardown. */
export interface ScenarioHandle extends InboundHandle {
  close(): Promise<void>;
}

function engineFor(name: ScenarioName): InboundEngine {
  const scenario = SCENARIOS[name];
  const snapshot = loadConfigText(scenario.yaml);
  const errors = snapshot.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(`scenario ${name} has config errors: ${JSON.stringify(errors)}`);
  const plan = compilePlan(snapshot, scenario.workload);
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const jwt = createJwtAuthenticator({ clock });
  return createInboundEngine({
    getPlan: () => plan,
    jwt,
    clock,
    random: seededRandom(1),
    peerHeaders: LOCAL_PEER,
  });
}

/** Builds the inbound handle a scenario's adapters and core runner share; a fresh one per case. */
export function createScenarioHandle(name: ScenarioName): Promise<ScenarioHandle> {
  const engine = engineFor(name);
  return Promise.resolve({
    decide: (req) => engine.decide(req),
    // The table runs on plaintext loopback: no connection has a verified peer.
    peerOf: () => null,
    close: () => engine.close(),
  });
}
