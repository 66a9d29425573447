/**
 * rekey's CDK constructs, for other CDK apps: the whole stack, or its parts.
 * Secure defaults are in ./defaults; every construct checks its props once and
 * reports every problem in one InvalidPropsError.
 */
export * from './defaults';
export { InvalidPropsError, InfraError, ConstructUsageError, ContextError } from './errors';
export type { DataApiDatabase } from './database';
export type { KeyringAccess } from './keyring-access';
export type { EncryptedColumnRegistry, RegistryTable } from './registry';
export { ENV as FUNCTION_ENVIRONMENT, type KeyringKind } from './environment';
export { RekeyFunction, type RekeyFunctionProps, BUNDLING } from './rekey-function';
export {
  ReencryptionPipeline,
  type ReencryptionPipelineProps,
  type ReencryptionPipelineTuning,
} from './reencryption-pipeline';
export { STATE_NAMES, TASK_HANDLERS, EXECUTION_ERRORS } from './reencryption-definition';
export {
  KeysetRotation,
  KEYSET_BOOTSTRAP_FORMAT,
  KEYSET_BOOTSTRAP_DOCUMENT,
  type KeysetRotationProps,
} from './keyset-rotation';
export {
  RotationSchedules,
  type RotationSchedulesProps,
  type RotationTarget,
  type AutomaticRotation,
  type TenantSchedule,
} from './rotation-schedules';
export {
  RekeyMonitoring,
  type RekeyMonitoringProps,
  type AlarmThresholds,
  type RekeyAlarmName,
} from './rekey-monitoring';
export { TrialDatabase, type TrialDatabaseOptions, type TrialDatabaseProps } from './trial-database';
export { RekeyStack, type RekeyStackProps, type ExistingDatabase, type DeployedKmsKey } from './rekey-stack';
export {
  createRekeyApp,
  runRekeyApp,
  stackPropsFromContext,
  CONTEXT_KEYS,
  EXAMPLE_REGISTRY,
  DEFAULT_OUTPUTS_FILE,
  type RekeyAppOptions,
} from './app';
export {
  synthesizeStateMachineDefinition,
  type StateMachineDefinition,
  DefinitionSynthesisError,
} from './synthesize-definition';
export { worstCaseHistoryEvents, progressPolls, HISTORY_EVENT_BUDGET, HISTORY_EVENT_LIMIT } from './history-budget';
