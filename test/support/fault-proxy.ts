import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * A fault-injecting HTTP proxy in front of moto_server, for the reliability
 * suite's dependency faults (test/reliability/dependency-faults.test.ts):
 * the real AWS SDK clients talk to it as to the service, and it answers some
 * requests itself, on the wire, as the service would under trouble:
 * - `throttle`: HTTP 400 `ThrottlingException` (KMS's answer past its request quota);
 * - `unavailable`: HTTP 503 `ServiceUnavailable`.
 * Everything else is forwarded to moto unchanged. Listens on loopback only;
 * bodies are capped; every rule injects at most `limit` faults.
 *
 * The SDK's retries are seen here: a retried request carries
 * `amz-sdk-request: attempt=N` with N > 1.
 */
export type AwsService = 'kms' | 'secretsmanager' | 'other';

export interface FaultRule {
  readonly service: AwsService;
  readonly fault: 'throttle' | 'unavailable';
  /** Fault only first attempts (the SDK's retry then goes through) or every attempt. */
  readonly attempts: 'first' | 'all';
  /** Fault one matching request in `every` (1: each one). @default 1 */
  readonly every?: number;
  /** Faults to inject in all; then the rule is spent. */
  readonly limit: number;
}

export interface FaultProxy {
  readonly endpoint: string;
  /** Requests seen, faults injected and retried requests (attempt > 1), per service. */
  readonly stats: Record<AwsService, { requests: number; faults: number; retries: number }>;
  /** Arms a rule (replacing the previous one for its service); undefined disarms the service. */
  arm(rule: FaultRule): void;
  disarm(service: AwsService): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const stats: FaultProxy['stats'] = {
    kms: { requests: 0, faults: 0, retries: 0 },
    secretsmanager: { requests: 0, faults: 0, retries: 0 },
    other: { requests: 0, faults: 0, retries: 0 },
  };
  const rules = new Map<AwsService, { rule: FaultRule; seen: number; injected: number }>();

  const serviceOf = (req: IncomingMessage): AwsService => {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target.startsWith('TrentService.')) return 'kms';
    if (target.startsWith('secretsmanager.')) return 'secretsmanager';
    return 'other';
  };
  const attemptOf = (req: IncomingMessage): number =>
    Number(/attempt=(\d+)/.exec(String(req.headers['amz-sdk-request'] ?? ''))?.[1] ?? 1);

  const faultFor = (service: AwsService, attempt: number): FaultRule['fault'] | undefined => {
    const armed = rules.get(service);
    if (!armed || armed.injected >= armed.rule.limit) return undefined;
    if (armed.rule.attempts === 'first' && attempt > 1) return undefined;
    if (armed.seen++ % (armed.rule.every ?? 1) !== 0) return undefined;
    armed.injected++;
    return armed.rule.fault;
  };

  const answer = (res: ServerResponse, fault: FaultRule['fault']): void => {
    const [status, type, message] =
      fault === 'throttle'
        ? [400, 'ThrottlingException', 'Rate exceeded']
        : [503, 'ServiceUnavailable', 'Service is unavailable'];
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-errortype': type,
      'x-amzn-requestid': 'fault-proxy',
    });
    res.end(JSON.stringify({ __type: type, message }));
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      const service = serviceOf(req);
      const attempt = attemptOf(req);
      stats[service].requests++;
      if (attempt > 1) stats[service].retries++;
      const fault = faultFor(service, attempt);
      if (fault) {
        stats[service].faults++;
        answer(res, fault);
        return;
      }
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    arm: (rule) => rules.set(rule.service, { rule, seen: 0, injected: 0 }),
    disarm: (service) => void rules.delete(service),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
