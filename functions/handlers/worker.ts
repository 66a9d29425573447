/**
 * Placeholder Lambda entry for the CDK stack (lib/). The real handler (middy +
 * Powertools) replaces this file; its contract is in docs/state-machine.md.
 */
export const handler = async (): Promise<never> => {
  throw new Error('not implemented: worker');
};
