import type { RotationPlan } from './estimate';

const n = (x: number): string => Math.round(x).toLocaleString('en-US');
const usd = (x: number): string => (x === 0 ? '$0' : x < 0.01 ? `$${x.toFixed(6)}` : `$${x.toFixed(2)}`);

/** Seconds as `42.0 s`, `12 min 5 s` or `3 h 20 min`. */
export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

const RUNNER_LABEL: Readonly<Record<RotationPlan['runner'], string>> = {
  cli: 'CLI job runner',
  'state-machine': 'state machine on AWS (SQS → Lambda)',
  'local-state-machine': 'state machine, local runtime (SQS in moto_server → in-process workers)',
};

/** The plan as the CLI prints it (the same figures as `--json`). */
export function formatPlan(plan: RotationPlan): string[] {
  const lines: string[] = [];
  lines.push(
    `PLAN: ${plan.mode} to ${plan.targetKeyId} — ${plan.keyring} keyring, ${RUNNER_LABEL[plan.runner]}, batch ${n(plan.batchSize)}, concurrency ${plan.concurrency}`,
  );
  lines.push(...operationsTable(plan));
  lines.push(...callsAndThroughput(plan));
  lines.push(...durationAndCost(plan));
  lines.push(...recommendationLines(plan));
  return lines;
}

/** Rows, operations, batches and KMS calls per table and in total. */
function operationsTable(plan: RotationPlan): string[] {
  const t = plan.total;
  const lines: string[] = [];
  const header = [
    'table',
    'rows',
    'to change',
    'rewrap',
    'reencrypt',
    'encrypt',
    'migrate',
    'will fail',
    'batches',
    'KMS calls',
  ];
  const row = (
    name: string,
    x: {
      rowsTotal: number;
      rowsPending: number;
      batches: number;
      kmsCalls: number;
      operations: RotationPlan['total']['operations'];
    },
  ): string[] => [
    name,
    n(x.rowsTotal),
    n(x.rowsPending),
    n(x.operations.rewrap),
    n(x.operations.reencrypt),
    n(x.operations.encrypt),
    n(x.operations.migrate),
    n(x.operations.failing),
    n(x.batches),
    n(x.kmsCalls),
  ];
  lines.push(
    ...table([
      header,
      ...plan.tables.map((x) => row(x.table, x)),
      row('TOTAL', {
        rowsTotal: t.rowsTotal,
        rowsPending: t.rowsToChange,
        batches: t.batches,
        kmsCalls: t.kmsCalls,
        operations: t.operations,
      }),
    ]).map((l) => `  ${l}`),
  );
  if (plan.counted === 'pending rows')
    lines.push('  (per-operation counts assume every pending row is one value of the mode: no inventory was taken)');
  return lines;
}

/** Calls to the key services and AWS, the expected throughput and the KMS quota that may bound it. */
function callsAndThroughput(plan: RotationPlan): string[] {
  const t = plan.total;
  const tp = plan.throughput;
  const lines: string[] = [];
  lines.push(
    `Key services: ${n(t.kmsCalls)} KMS calls, ${n(t.secretsManagerCalls)} Secrets Manager calls` +
      (plan.keyring === 'hierarchical'
        ? ` (${n(t.keysetLoads)} keyset loads: each worker at start and per cache TTL)`
        : plan.keyring === 'raw'
          ? ' (raw keyring: keys in memory)'
          : ' (kms keyring: per value)'),
  );
  if (t.aws) {
    lines.push(
      `AWS: ${n(t.aws.lambdaInvocations)} Lambda invocations, ${t.aws.lambdaGbSeconds.toFixed(1)} GB-s; ${n(t.aws.stepFunctionsTransitions)} Step Functions transitions (${t.aws.progressPolls} progress polls); ${n(t.aws.sqsRequests)} SQS requests; ${n(t.aws.dataApiCalls)} Data API calls`,
    );
  }
  lines.push(`Throughput: ${n(tp.rowsPerSecond)} rows/s — ${tp.basis}`);
  if (tp.kmsRequestsPerSecond > 0 || plan.keyring === 'kms') {
    lines.push(
      `KMS quota: ${n(tp.kmsQuotaPerSecond)} requests/s (${tp.kmsQuotaFrom}); the job would make ${n(tp.kmsRequestsPerSecond)}/s${tp.limitedBy === 'kms-quota' ? ` — the quota bounds it to ${n(tp.effectiveRowsPerSecond)} rows/s` : ''}`,
    );
  }
  return lines;
}

/** The predicted duration, its time model, and the cost with the prices it is based on. */
function durationAndCost(plan: RotationPlan): string[] {
  const lines: string[] = [];
  const d = plan.duration;
  lines.push(
    `Predicted duration: ${formatSeconds(d.seconds)} (batches ${formatSeconds(d.batchPhaseSeconds)}, planning + verify ${formatSeconds(d.scanSeconds)}${d.pollingSeconds > 0 ? `, progress polling ${formatSeconds(d.pollingSeconds)}` : ''}${d.runtimeSeconds > 0 ? `, runtime ${formatSeconds(d.runtimeSeconds)}` : ''})`,
  );
  lines.push(`  time model: ${plan.model}`);
  lines.push(
    `Predicted cost: ${usd(plan.cost.usd)}${
      plan.cost.lines.filter((l) => l.usd > 0).length
        ? ` (${plan.cost.lines
            .filter((l) => l.usd > 0)
            .map((l) => `${l.item} ${usd(l.usd)}`)
            .join(', ')})`
        : ''
    }` +
      (plan.cost.monthlyUsd > 0
        ? `; standing cost ${usd(plan.cost.monthlyUsd)}/month (${plan.cost.monthly.map((l) => l.item.replace(/ \(.*\)$/, '')).join(', ')})`
        : ''),
  );
  lines.push(`  prices of ${plan.cost.prices.date}, ${plan.cost.prices.region}: ${plan.cost.prices.source}`);
  return lines;
}

/** What the planner recommends changing, if anything. */
function recommendationLines(plan: RotationPlan): string[] {
  const lines: string[] = [];
  if (plan.recommendations.length > 0) {
    lines.push('Recommendations:');
    for (const r of plan.recommendations) lines.push(`  - ${r.message}`);
  }
  return lines;
}
