import { defineKind, type KindDefinition } from './kind-definition.js';
import { authorizationPolicySpec } from './schema/authorization-policy.js';
import { validateAuthorizationPolicy } from './schema/authorization-policy-validate.js';
import { envoyFilterSpec } from './schema/envoy-filter.js';
import { validateEnvoyFilter } from './schema/envoy-filter-validate.js';
import { peerAuthenticationSpec, validatePeerAuthentication } from './schema/peer-authentication.js';
import { proxyConfigSpec, validateProxyConfig } from './schema/proxy-config.js';
import { requestAuthenticationSpec, validateRequestAuthentication } from './schema/request-authentication.js';
import { telemetrySpec, validateTelemetry } from './schema/telemetry.js';
import { validateWasmPlugin, wasmPluginSpec } from './schema/wasm-plugin.js';

/** A typed definition seen through the loader's untyped list (each validator gets its own kind's spec). */
function erase<S>(def: KindDefinition<S>): KindDefinition {
  return def as unknown as KindDefinition;
}

/**
 * The security, telemetry and extension kinds. Versions are the ones Istio's CRDs
 * serve (istio/api kubernetes/customresourcedefinitions.gen.yaml): security.istio.io
 * was never served as v1alpha1 (that was authentication.istio.io / rbac.istio.io).
 */
export const SECURITY_KINDS: readonly KindDefinition[] = Object.freeze([
  erase(
    defineKind({
      kind: 'PeerAuthentication',
      group: 'security.istio.io',
      versions: ['v1beta1', 'v1'],
      spec: peerAuthenticationSpec,
      specRequired: false,
      validate: validatePeerAuthentication,
      support: 'full',
    }),
  ),
  erase(
    defineKind({
      kind: 'RequestAuthentication',
      group: 'security.istio.io',
      versions: ['v1beta1', 'v1'],
      spec: requestAuthenticationSpec,
      specRequired: false,
      validate: validateRequestAuthentication,
      support: 'full',
    }),
  ),
  erase(
    defineKind({
      kind: 'AuthorizationPolicy',
      group: 'security.istio.io',
      versions: ['v1beta1', 'v1'],
      spec: authorizationPolicySpec,
      specRequired: false,
      validate: validateAuthorizationPolicy,
      support: 'full',
    }),
  ),
  erase(
    defineKind({
      kind: 'Telemetry',
      group: 'telemetry.istio.io',
      versions: ['v1alpha1', 'v1'],
      spec: telemetrySpec,
      specRequired: false,
      validate: validateTelemetry,
      support: 'full',
    }),
  ),
  erase(
    defineKind({
      kind: 'EnvoyFilter',
      group: 'networking.istio.io',
      versions: ['v1alpha3'],
      spec: envoyFilterSpec,
      specRequired: false,
      validate: validateEnvoyFilter,
      support: 'full',
    }),
  ),
  erase(
    defineKind({
      kind: 'WasmPlugin',
      group: 'extensions.istio.io',
      versions: ['v1alpha1'],
      spec: wasmPluginSpec,
      // The CRD requires spec.url, so a WasmPlugin without a spec is invalid.
      specRequired: true,
      validate: validateWasmPlugin,
      support: 'unsupported',
    }),
  ),
  erase(
    defineKind({
      kind: 'ProxyConfig',
      group: 'networking.istio.io',
      versions: ['v1beta1'],
      spec: proxyConfigSpec,
      specRequired: false,
      validate: validateProxyConfig,
      support: 'unsupported',
    }),
  ),
]);
