/**
 * The `service` + `port` of a meshConfig extension provider as a URL origin.
 * `service` is `[<Namespace>/]<Hostname>` (istio/api mesh/v1alpha1/config.proto); the
 * namespace only disambiguates Istio's registry lookup, so it is dropped here and the
 * host name is resolved by DNS. Throws an Error saying what is wrong.
 */
export function providerOrigin(
  config: Readonly<Record<string, unknown>>,
  scheme: 'http' | 'https' = 'http',
): string {
  const service = config['service'];
  const port = config['port'];
  if (typeof service !== 'string' || service === '') throw new Error('service is required');
  const portNumber = typeof port === 'string' ? Number(port) : port;
  if (typeof portNumber !== 'number' || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535)
    throw new Error('port must be 1-65535');
  const host = service.includes('/') ? service.slice(service.indexOf('/') + 1) : service;
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${scheme}://${hostPart}:${portNumber}`;
}
