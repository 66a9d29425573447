import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Figures of the reliability suite (`npm run test:reliability`, docs/reliability.md).
 * Each scenario records what it measured with {@link recordFigure}; the figures
 * reporter (figures-reporter.js) prints them as one table when the run ends.
 * A figure is a count measured by the test itself, never a constant: the test
 * asserts the goal separately, so a figure that misses its goal also fails.
 */
export interface Figure {
  /** The area of the reliability table, e.g. 'Concurrent writers'. */
  readonly area: string;
  /** What was counted, e.g. 'lost writes / concurrent updates'. */
  readonly figure: string;
  /** The measured value, e.g. '0 / 10,000'. */
  readonly value: string;
  /** The goal, e.g. '0 lost'. */
  readonly goal: string;
}

/** Where the figures of one run are collected (jest workers are separate processes). */
export const FIGURES_FILE = path.join(__dirname, '..', '..', '..', '.rekey-tmp', 'reliability-figures.jsonl');

/** The scale of the reliability scenarios: `ci` (bounded, part of `npm test`) or `large` (`npm run test:reliability -- --large`). */
export function reliabilitySize(): 'ci' | 'large' {
  return process.env.REKEY_RELIABILITY_SIZE === 'large' ? 'large' : 'ci';
}

/** Picks the count for the current size. */
export function sized(ci: number, large: number): number {
  return reliabilitySize() === 'large' ? large : ci;
}

export function recordFigure(figure: Figure): void {
  fs.mkdirSync(path.dirname(FIGURES_FILE), { recursive: true });
  fs.appendFileSync(FIGURES_FILE, `${JSON.stringify(figure)}\n`);
}
