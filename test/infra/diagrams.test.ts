import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STATE_TRANSITIONS } from '../../functions/core/plan/pipeline-shape';
import { diagramIn, stateMachineMermaid, withDiagram } from '../../lib/state-machine-diagram';
import { synthesizeStateMachineDefinition, type StateMachineDefinition } from '../../lib/synthesize-definition';

/**
 * The README's state-machine diagram and the planner's state-transition
 * figures, both against the synthesized definition: a change to the state
 * machine fails here until `npm run diagrams` is run and the planner's
 * STATE_TRANSITIONS are updated.
 */
describe('the synthesized state machine, as the README draws it and the planner counts it', () => {
  let definition: StateMachineDefinition;
  beforeAll(() => {
    definition = synthesizeStateMachineDefinition();
  });

  it('the README holds the diagram generated from the definition (npm run diagrams)', () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    expect(readme).toContain('## Architecture');
    expect(diagramIn(readme)).toBe(stateMachineMermaid(definition));
  });

  it('draws every state and every Next, Choice, Default and Catch edge', () => {
    const mermaid = stateMachineMermaid(definition);
    for (const name of Object.keys(definition.States)) expect(mermaid).toContain(`  ${name}`);
    expect(mermaid).toContain('IsDryRun -->|dryRun = true| DryRunReport');
    expect(mermaid).toContain('ProgressDecision -->|errorRate > maxErrorRate| Abort');
    expect(mermaid).toContain('Plan -.->|States.ALL| MarkFailed');
    // A changed definition changes the diagram (the check can fail).
    const changed = {
      ...definition,
      States: { ...definition.States, Plan: { ...definition.States.Plan, Next: 'Verify' } },
    };
    expect(stateMachineMermaid(changed)).not.toBe(stateMachineMermaid(definition));
    expect(diagramIn(withDiagram('# x\n', 'flowchart TD'))).toBe('flowchart TD');
  });

  /** States entered from StartAt to a terminal state, each Choice taking the next target listed for it. */
  function walk(choices: Record<string, string[]>): string[] {
    const queue = Object.fromEntries(Object.entries(choices).map(([k, v]) => [k, [...v]]));
    const path: string[] = [];
    let name: string | undefined = definition.StartAt;
    while (name !== undefined && path.length < 100) {
      path.push(name);
      const state: Record<string, unknown> = definition.States[name]!;
      if (state.Type === 'Choice') {
        const want = queue[name]?.shift();
        const targets = [...((state.Choices as { Next: string }[]) ?? []).map((c) => c.Next), String(state.Default)];
        expect(targets).toContain(want);
        name = want;
      } else name = typeof state.Next === 'string' ? state.Next : undefined;
    }
    return path;
  }

  it('has the state transitions the planner counts: dry run, fixed part, per Enqueue, per progress poll', () => {
    expect(walk({ IsDryRun: ['DryRunReport'] })).toHaveLength(STATE_TRANSITIONS.dryRun);
    const once = walk({
      IsDryRun: ['Enqueue'],
      AllBatchesEnqueued: ['CheckProgress'],
      ProgressDecision: ['Verify'],
      CanRetireOldKey: ['Finalize'],
    });
    expect(once).toHaveLength(STATE_TRANSITIONS.fixed + STATE_TRANSITIONS.perEnqueue);
    const loops = walk({
      IsDryRun: ['Enqueue'],
      AllBatchesEnqueued: ['Enqueue', 'Enqueue', 'CheckProgress'],
      ProgressDecision: ['WaitForProgress', 'WaitForProgress', 'Verify'],
      CanRetireOldKey: ['Finalize'],
    });
    expect(loops).toHaveLength(
      STATE_TRANSITIONS.fixed + 3 * STATE_TRANSITIONS.perEnqueue + 2 * STATE_TRANSITIONS.perPoll,
    );
  });
});
