/** A transaction the adapter opened: its id and the queue its calls take one at a time. */
export interface OpenTransaction {
  readonly id: string;
  readonly serial: <T>(task: () => Promise<T>) => Promise<T>;
}

/**
 * Runs tasks one after another, in the order they were given, whatever each
 * one's outcome. The Data API refuses a call on a transaction while another
 * runs on it ("Transaction is still running a query"), so every call of a
 * transaction goes through one of these.
 */
export function serialQueue(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task);
    tail = run.catch(() => undefined);
    return run;
  };
}
