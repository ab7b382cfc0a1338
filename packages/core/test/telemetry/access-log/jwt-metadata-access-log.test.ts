import { describe, expect, it } from 'vitest';
import { istioConfigMap } from '../../helpers/istio-config-map.js';
import { linesBeyond } from '../../helpers/line-collector.js';
import { useCleanup } from '../../helpers/cleanup.js';
import { useTmpDir } from '../../helpers/tmp.js';
import { GROUPS_SCOPE_JWT, SAMPLE_ISSUER, SAMPLE_JWKS, yamlString } from '../../inbound/jwt/helpers.js';
import { listenLikeAdapters, send } from '../mesh-app.js';
import { loggingMesh } from './support.js';

// istiod configures jwt_authn with `payload_in_metadata: payload`
// (pilot/pkg/security/authn/policy_applier.go, filters.EnvoyJwtFilterPayload), so a verified
// token's claims are the dynamic metadata `envoy.filters.http.jwt_authn: {payload: ...}`
// that %DYNAMIC_METADATA(...)% prints (envoy stream_info_formatter.cc MetadataFormatter:
// a string as it is, a list or struct as JSON, `-` when absent).

const tmp = useTmpDir();
const cleanup = useCleanup();

const FORMAT =
  "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:payload:sub)% %DYNAMIC_METADATA(envoy.filters.http.jwt_authn:payload:groups)% %METADATA(DYNAMIC:envoy.filters.http.jwt_authn:payload:iss)% %RESPONSE_CODE% %CEL(metadata.filter_metadata['envoy.filters.http.jwt_authn'].payload.groups[0])%";

/** httpbin in `foo` logging FORMAT, with the sample issuer's RequestAuthentication and `extra` YAML. */
async function httpbin(extra = ''): Promise<{ port: number; lines: string[] }> {
  const { mesh, lines } = await loggingMesh(
    await tmp(),
    `${istioConfigMap(`accessLogFile: /dev/stdout\naccessLogFormat: ${JSON.stringify(FORMAT)}`)}apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: ${SAMPLE_ISSUER}
    jwks: ${yamlString(SAMPLE_JWKS)}
${extra}`,
    { app: 'httpbin', namespace: 'foo' },
  );
  cleanup.mesh(mesh);
  const port = await listenLikeAdapters(mesh, (_req, res) => {
    res.end('ok');
  });
  return { port, lines };
}

describe('jwt_authn dynamic metadata in the access log', () => {
  it("prints the verified token's claims, - for a request without one", async () => {
    const { port, lines } = await httpbin();
    expect(await send(port, { headers: { authorization: `Bearer ${GROUPS_SCOPE_JWT}` } })).toBe(200);
    await linesBeyond(lines, 0);
    expect(await send(port)).toBe(200);
    await linesBeyond(lines, 1);
    expect(lines).toEqual([
      `${SAMPLE_ISSUER} ["group1","group2"] ${SAMPLE_ISSUER} 200 group1`,
      '- - - 200 -',
    ]);
  });

  it('keeps the claims of a request an AuthorizationPolicy refuses after jwt_authn verified its token', async () => {
    // jwt_authn writes the payload before the RBAC filters run (listener_builder.go order),
    // so a 403 still logs who it was.
    const { port, lines } = await httpbin(`---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-group1, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules:
  - when:
    - key: request.auth.claims[groups]
      values: ["group1"]
`);
    expect(await send(port, { headers: { authorization: `Bearer ${GROUPS_SCOPE_JWT}` } })).toBe(403);
    await linesBeyond(lines, 0);
    // A token jwt_authn refuses writes no payload.
    expect(await send(port, { headers: { authorization: 'Bearer not.a.token' } })).toBe(401);
    await linesBeyond(lines, 1);
    expect(lines).toEqual([
      `${SAMPLE_ISSUER} ["group1","group2"] ${SAMPLE_ISSUER} 403 group1`,
      '- - - 401 -',
    ]);
  });
});
