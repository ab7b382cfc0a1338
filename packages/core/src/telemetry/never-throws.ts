/** `fn` with its exceptions swallowed: telemetry never throws into the application. */
export function neverThrows<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return (...args: A): void => {
    try {
      fn(...args);
    } catch {
      // Telemetry never throws into the application.
    }
  };
}
