/**
 * An answer a CI stand-in holds back: `reached` resolves with what the request created, and the
 * answer goes out only once the test calls `release()`.
 */
export interface HeldAnswer<T> {
  reached: Promise<T>;
  arrived: (value: T) => void;
  gate: Promise<void>;
  release: () => void;
}

export function heldAnswer<T>(): HeldAnswer<T> {
  const reached = Promise.withResolvers<T>();
  const gate = Promise.withResolvers<void>();
  return {
    reached: reached.promise,
    arrived: reached.resolve,
    gate: gate.promise,
    release: () => gate.resolve(),
  };
}
