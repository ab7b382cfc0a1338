/** An AuthorizationPolicy of namespace `foo` that denies `/admin` to everyone. */
export const DENY_ADMIN = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: foo }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin"] } }] }]
`;

/** An AuthorizationPolicy of namespace `foo` that denies httpbin's `/private` to everyone. */
export const DENY_PRIVATE = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-private, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/private"] } }] }]
`;
