import { memoize } from '../../../functions/runtime/memoize';

describe('memoize', () => {
  it('builds on first use and returns the same value afterwards', async () => {
    const build = jest.fn(async () => ({ n: 1 }));
    const memo = memoize(build);
    expect(build).not.toHaveBeenCalled();
    const a = await memo.get();
    const b = await memo.get();
    expect(a).toBe(b);
    expect(build).toHaveBeenCalledTimes(1);
  });

  it('shares one build between callers that ask while it is running', async () => {
    let release!: (v: string) => void;
    const build = jest.fn(() => new Promise<string>((r) => (release = r)));
    const memo = memoize(build);
    const first = memo.get();
    const second = memo.get();
    release('ready');
    await expect(Promise.all([first, second])).resolves.toEqual(['ready', 'ready']);
    expect(build).toHaveBeenCalledTimes(1);
  });

  it('does not keep a rejected build: the next call builds again', async () => {
    const build = jest
      .fn<Promise<string>, []>()
      .mockRejectedValueOnce(new Error('throttled'))
      .mockResolvedValueOnce('second try');
    const memo = memoize(build);
    await expect(memo.get()).rejects.toThrow('throttled');
    await expect(memo.get()).resolves.toBe('second try');
    await expect(memo.get()).resolves.toBe('second try');
    expect(build).toHaveBeenCalledTimes(2);
  });

  it('does not keep a build that throws', () => {
    const build = jest
      .fn<string, []>()
      .mockImplementationOnce(() => {
        throw new Error('no config');
      })
      .mockReturnValueOnce('built');
    const memo = memoize(build);
    expect(() => memo.get()).toThrow('no config');
    expect(memo.get()).toBe('built');
    expect(memo.get()).toBe('built');
    expect(build).toHaveBeenCalledTimes(2);
  });

  it('builds again, and disposes of the old value, when the key changes', async () => {
    let endpoint: string | undefined = undefined;
    const disposed: string[] = [];
    const memo = memoize(() => `client for ${endpoint ?? 'aws'}`, {
      key: () => endpoint,
      dispose: (client) => disposed.push(client),
    });
    expect(memo.get()).toBe('client for aws');
    expect(memo.get()).toBe('client for aws');
    endpoint = 'http://localhost:5000';
    expect(memo.get()).toBe('client for http://localhost:5000');
    expect(memo.get()).toBe('client for http://localhost:5000');
    await new Promise(setImmediate); // disposal runs in the background
    expect(disposed).toEqual(['client for aws']);
  });

  it('a rejection of a build replaced meanwhile does not forget the newer one', async () => {
    let reject!: (e: Error) => void;
    let key = 'a';
    const builds = [() => new Promise<string>((_r, j) => (reject = j)), () => Promise.resolve('b')];
    let i = 0;
    const memo = memoize(() => builds[i++]!(), { key: () => key });
    const first = memo.get();
    key = 'b';
    const second = memo.get();
    reject(new Error('late failure'));
    await expect(first).rejects.toThrow('late failure');
    await expect(second).resolves.toBe('b');
    expect(memo.get()).toBe(second);
  });

  it('reset forgets and disposes of the value; a failed build has nothing to dispose of', async () => {
    const dispose = jest.fn();
    const memo = memoize(async () => 'pool', { dispose });
    await memo.get();
    await memo.reset();
    expect(dispose).toHaveBeenCalledWith('pool');
    await memo.get();
    expect(dispose).toHaveBeenCalledTimes(1);

    const failing = memoize(() => Promise.reject(new Error('down')), { dispose });
    await expect(failing.get()).rejects.toThrow('down');
    await failing.reset();
    expect(dispose).toHaveBeenCalledTimes(1);
  });

  it('reset ignores a dispose that fails', async () => {
    const memo = memoize(async () => 'pool', {
      dispose: () => {
        throw new Error('already closed');
      },
    });
    await memo.get();
    await expect(memo.reset()).resolves.toBeUndefined();
  });
});
