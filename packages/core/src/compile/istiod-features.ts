import { parseGoBool } from '../config/validate/go-bool.js';

/**
 * The istiod feature flags meshlet honours, which istiod reads from its own environment
 * (pilot/pkg/features). meshlet compiles the configuration in the service's process, so it
 * reads the same variables from the process's environment unless `createMesh` is given them.
 */
export interface IstiodFeatures {
  /**
   * `PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS` (Istio 1.30, default false; features/security.go):
   * CUSTOM AuthorizationPolicies of one workload may name several providers, each asked for
   * its own policies' requests. Off, several providers turn every CUSTOM policy into a deny.
   */
  readonly enableMultipleCustomAuthzProviders: boolean;
}

export const DEFAULT_ISTIOD_FEATURES: IstiodFeatures = Object.freeze({
  enableMultipleCustomAuthzProviders: false,
});

/**
 * A boolean variable as istiod's env.Register reads it: Go's strconv.ParseBool, a value it
 * does not parse leaving the default (pkg/env/var.go: logged and ignored).
 */
function envBool(value: string | undefined, fallback: boolean): boolean {
  return value === undefined ? fallback : (parseGoBool(value) ?? fallback);
}

/** The flags as istiod would read them from `env`. */
export function istiodFeaturesFromEnv(env: Readonly<Record<string, string | undefined>>): IstiodFeatures {
  return Object.freeze({
    enableMultipleCustomAuthzProviders: envBool(
      env['PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS'],
      DEFAULT_ISTIOD_FEATURES.enableMultipleCustomAuthzProviders,
    ),
  });
}
