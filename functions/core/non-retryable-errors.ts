/**
 * The errors rekey raises that no retry can fix: every instance of these
 * classes has `retryable: false` (a configuration, input, schema, key or
 * data problem). The state machine fails a task at once on them instead of
 * retrying it (lib/reencryption-definition.ts): Step Functions matches error
 * names exactly, so the names are listed. Errors whose instances decide
 * (RotationStepError, ExecutionStartError) and unknown errors are retried.
 *
 * test/unit/non-retryable-errors.test.ts reads the error classes from the
 * source and fails when this list and the code disagree.
 */
export const NON_RETRYABLE_ERROR_NAMES: readonly string[] = [
  'ActiveKeyExistsError',
  'AuthenticationError',
  'BatchLeaseLostError',
  'BatchNotFoundError',
  'CatalogInputError',
  'CatalogKeyNotFoundError',
  'DataApiConfigurationError',
  'DataApiLimitError',
  'DataApiParameterError',
  'DataApiTransactionError',
  'DatabaseAuthenticationError',
  'DatabaseUrlError',
  'EnvelopeFormatError',
  'HandlerConfigError',
  'InvalidContextError',
  'InvalidInputError',
  'InvalidKeyTransitionError',
  'InvalidPlaintextError',
  'JobFailedError',
  'JobNotFoundError',
  'JobOptionsError',
  'JobStateError',
  'KeyAlreadyExistsError',
  'KeyDestroyedError',
  'KeyLifecycleError',
  'KeyMaterialError',
  'KeyNotActiveError',
  'KeyScopeError',
  'KeyServiceAccessDeniedError',
  'KeyServiceNotFoundError',
  'KeyServiceRejectedError',
  'KeyringCatalogMismatchError',
  'KeysetFormatError',
  'KeysetUpdateError',
  'LegacyAuthenticationError',
  'LegacyFormatError',
  'MalformedMessageError',
  'MigrationChecksumError',
  'MigrationListError',
  'NoBlindIndexerError',
  'OversizeError',
  'PlaintextEncodingError',
  'QueryError',
  'RegistryError',
  'ResultTooLargeError',
  'RotationConfigError',
  'RotationEventError',
  'RotationSelfTestError',
  'RotationStateError',
  'RuntimeConfigError',
  'SchemaNotMigratedError',
  'SchemaTooNewError',
  'UniqueViolationError',
  'UnknownDatabaseError',
  'UnknownKeyError',
  'UnsupportedVersionError',
];
