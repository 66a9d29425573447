/**
 * A value built on first use and kept for the container's life: the one
 * cache every container (functions/runtime/*-container.ts) keeps its
 * clients, pools and runtimes in. A build that fails is not kept (a throw, or
 * a promise that rejects): a throttled KMS or a database that was not up yet
 * is tried again by the next invocation instead of failing every invocation
 * of a warm container.
 */
export interface Memo<T> {
  /** The kept value, or a new one when there is none, or when `key()` changed since it was built. */
  get(): T;
  /** Forgets the value (tests; a container shutting down) and disposes of it when it was built. */
  reset(): Promise<void>;
}

export interface MemoOptions<T> {
  /**
   * What the value depends on besides the code: when it returns something
   * else than at the last build, the value is built again (the old one is
   * disposed of). The local runtime points AWS_ENDPOINT_URL_SQS at moto after
   * a client may have been built.
   * @default none: built once
   */
  readonly key?: () => unknown;
  /** Releases a value that is forgotten (a pool's `close`, a client's `destroy`). Its failure is ignored. */
  readonly dispose?: (value: Awaited<T>) => unknown;
}

export function memoize<T>(build: () => T, options: MemoOptions<T> = {}): Memo<T> {
  let entry: { readonly value: T; readonly key: unknown } | undefined;
  const forget = async (old: { readonly value: T } | undefined): Promise<void> => {
    if (!old || !options.dispose) return;
    try {
      // A build that failed has nothing to dispose of.
      const value = await Promise.resolve(old.value).catch(() => undefined);
      if (value !== undefined) await options.dispose(value as Awaited<T>);
    } catch {
      // Releasing is best effort: the value is forgotten either way.
    }
  };
  return {
    get(): T {
      const key = options.key?.();
      if (entry && Object.is(entry.key, key)) return entry.value;
      const current = { value: build(), key };
      void forget(entry);
      entry = current;
      if (isPromiseLike(current.value)) {
        // Only this build is forgotten: a newer one (after a reset or a key change) stays.
        current.value.then(undefined, () => {
          if (entry === current) entry = undefined;
        });
      }
      return current.value;
    },
    async reset(): Promise<void> {
      const old = entry;
      entry = undefined;
      await forget(old);
    },
  };
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
