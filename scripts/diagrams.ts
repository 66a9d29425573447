/**
 * `npm run diagrams`: regenerates the README's state-machine diagram from the
 * synthesized definition (lib/state-machine-diagram.ts). test/infra/diagrams.test.ts
 * fails when the README's copy differs from what this writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stateMachineMermaid, withDiagram } from '../lib/state-machine-diagram';
import { synthesizeStateMachineDefinition } from '../lib/synthesize-definition';

const readmePath = join(__dirname, '..', 'README.md');
const before = readFileSync(readmePath, 'utf8');
const after = withDiagram(before, stateMachineMermaid(synthesizeStateMachineDefinition()));
if (after === before) console.log('README.md: the state-machine diagram is current');
else {
  writeFileSync(readmePath, after);
  console.log('README.md: state-machine diagram regenerated');
}
