// oidc-provider ships no type declarations; the JWT test narrows what it uses itself.
declare module 'oidc-provider' {
  const Provider: unknown;
  export default Provider;
}
