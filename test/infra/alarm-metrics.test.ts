import * as fs from 'node:fs';
import * as path from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { createRekeyApp, loadCdkJsonContext } from '../../lib/app';
import { PROJECT_ROOT } from '../../lib/rekey-function';
import { METRICS_NAMESPACE, MetricNames, SERVICE_DIMENSION, SERVICE_NAME } from '../../functions/core/metrics-names';
import { metrics } from '../../functions/handlers/shared/powertools';
import { DEPLOY_CONTEXT, SYNTH_TIMEOUT_MS, testOutdir } from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

type MetricRef = { alarm: string; name: string; dimensions: { Name: string; Value: unknown }[] };

/** Every metric of namespace `Rekey` an alarm of the template reads, with its dimensions. */
function rekeyMetricsOfAlarms(
  resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>,
): MetricRef[] {
  const refs: MetricRef[] = [];
  for (const [id, r] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')) {
    const p = r.Properties as {
      Namespace?: string;
      MetricName?: string;
      Dimensions?: MetricRef['dimensions'];
      Metrics?: {
        MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: MetricRef['dimensions'] } };
      }[];
    };
    if (p.Namespace === METRICS_NAMESPACE)
      refs.push({ alarm: id, name: p.MetricName!, dimensions: p.Dimensions ?? [] });
    for (const m of p.Metrics ?? []) {
      const metric = m.MetricStat?.Metric;
      if (metric?.Namespace === METRICS_NAMESPACE)
        refs.push({ alarm: id, name: metric.MetricName, dimensions: metric.Dimensions ?? [] });
    }
  }
  return refs;
}

/** The metric names the Lambda handlers emit with Powertools (`addMetric(MetricNames.X, ...)`), read from their source. */
function metricNamesEmittedByHandlers(): Set<string> {
  const dir = path.join(PROJECT_ROOT, 'functions', 'handlers');
  const emitted = new Set<string>();
  // Handlers and their shared modules (functions/handlers/shared: the worker's record, the rotation step, inventory).
  const files = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const source = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const m of source.matchAll(/addMetric\(\s*MetricNames\.(\w+)/g))
      emitted.add(MetricNames[m[1] as keyof typeof MetricNames]);
  }
  return emitted;
}

/** What the handlers' shared Metrics instance writes for one metric: the EMF document, parsed. */
function emfOf(name: string): {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [k: string]: unknown;
} {
  const lines: string[] = [];
  const capture = (chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  };
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture as never);
  const log = jest
    .spyOn(console, 'log')
    .mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
  try {
    metrics.addMetric(name, MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  } finally {
    out.mockRestore();
    log.mockRestore();
  }
  const emf = lines.map((l) => l.trim()).filter((l) => l.startsWith('{') && l.includes('CloudWatchMetrics'));
  expect(emf).toHaveLength(1);
  return JSON.parse(emf[0]!) as never;
}

describe('alarms read the metrics the handlers emit', () => {
  let refs: MetricRef[];
  beforeAll(() => {
    const { app, stack } = createRekeyApp({
      nag: false,
      outdir: testOutdir(),
      context: { ...loadCdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...DEPLOY_CONTEXT },
    });
    refs = rekeyMetricsOfAlarms(
      (app.synth().getStackByName(stack.stackName).template as { Resources: never }).Resources,
    );
  });

  test('every Rekey metric an alarm reads is one a handler emits', () => {
    expect(refs.length).toBeGreaterThanOrEqual(8);
    const emitted = metricNamesEmittedByHandlers();
    expect(emitted.size).toBeGreaterThanOrEqual(10);
    expect(refs.filter((r) => !emitted.has(r.name)).map((r) => `${r.alarm}: ${r.name}`)).toEqual([]);
  });

  test('alarms filter on exactly the dimensions Powertools writes: {service: rekey}', () => {
    for (const r of refs)
      expect([r.alarm, r.dimensions]).toEqual([r.alarm, [{ Name: SERVICE_DIMENSION, Value: SERVICE_NAME }]]);
  });

  test("the handlers' Metrics instance writes that namespace, name and dimension set (EMF captured)", () => {
    const previous = process.env.POWERTOOLS_METRICS_DISABLED;
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    try {
      for (const name of new Set(refs.map((r) => r.name))) {
        const emf = emfOf(name);
        const [directive] = emf._aws.CloudWatchMetrics;
        expect(directive!.Namespace).toBe(METRICS_NAMESPACE);
        expect(directive!.Dimensions).toEqual([[SERVICE_DIMENSION]]);
        expect(directive!.Metrics.map((m) => m.Name)).toEqual([name]);
        expect(emf[SERVICE_DIMENSION]).toBe(SERVICE_NAME);
      }
    } finally {
      if (previous === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
      else process.env.POWERTOOLS_METRICS_DISABLED = previous;
    }
  });
});
