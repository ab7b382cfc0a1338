/**
 * The one catalogue of meshlet error codes (`MESHLET_ERR_<AREA>_<PROBLEM>`).
 * Codes are never reused; `docs/errors.md` is kept in sync by a test.
 */
export const ERROR_CODES = {
  MESHLET_ERR_CONFIG_INVALID: 'The configuration has errors; every diagnostic is attached.',
  MESHLET_ERR_CONFIG_SOURCE:
    'A configuration source could not be read (missing, unreadable, or a symlink loop).',
  MESHLET_ERR_CONFIG_WORKLOAD: 'The workload identity passed to compilePlan is incomplete or malformed.',
  MESHLET_ERR_CLI_USAGE: 'The command line could not be understood.',
  MESHLET_ERR_OUTBOUND_URL: 'The URL of an outbound call is not an absolute URL with a host.',
  MESHLET_ERR_OUTBOUND_SCHEME: 'The URL of an outbound call uses a scheme other than http: or https:.',
  MESHLET_ERR_OUTBOUND_TIMEOUT: "An outbound call did not complete within the caller's own timeout.",
  MESHLET_ERR_OUTBOUND_ROUTE_TIMEOUT:
    "The route's timeout expired while the response body was still streaming: the body fails with this error (Envoy resets the stream, flag UT).",
  MESHLET_ERR_OUTBOUND_BODY:
    'The request body of an outbound call has an unsupported type or its stream failed.',
  MESHLET_ERR_OUTBOUND_CONNECT:
    "mesh.connect could not open the TCP connection, or mesh.fetch could not carry an https call over the application's own TLS: details.flags holds Envoy's response flag (NC, UH, UO, UF), the host is outside the registry under REGISTRY_ONLY, or (no flag) the application's TLS failed.",
  MESHLET_ERR_OUTBOUND_OPTIONS: 'A mesh.fetch option has the wrong type (details.option names it).',
  MESHLET_ERR_JWT_OPTIONS: 'createJwtAuthenticator was given an option that is not a non-negative number.',
  MESHLET_ERR_JWT_JWKS_FETCH:
    'A JWKS (or its OIDC discovery document) could not be fetched or held no usable key; tokens of that issuer are rejected.',
  MESHLET_ERR_ADAPTER_OPTIONS:
    'A framework adapter (@meshlet/fastify, @meshlet/express) was given no mesh, or one without an inbound handle.',
  MESHLET_ERR_IDENTITY_CERTS:
    'Workload certificates are missing, unreadable, inconsistent (key does not fit, no chain to the root) or outside their validity.',
  MESHLET_ERR_IDENTITY_ISSUE: 'A workload certificate could not be issued: a bad option, or an unusable CA.',
  MESHLET_ERR_MESH_OPTIONS: 'createMesh was given an option it cannot use (details.option names it).',
  MESHLET_ERR_MESH_CLOSED: 'A call was made on a mesh after close().',
  MESHLET_ERR_RATELIMIT_CONFIG:
    "An envoyproxy/ratelimit configuration given to the mock mesh's in-memory rate limit service is one envoyproxy/ratelimit refuses (details.document names the document); the service keeps the configuration it had.",
  MESHLET_ERR_RATELIMIT_REQUEST:
    'The in-memory rate limit service refused a ShouldRateLimit call as envoyproxy/ratelimit does with a gRPC error (empty domain, no descriptors, a limit override without a unit), or one a RateLimitRequest cannot carry.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
