/**
 * Imported first by the handler tests, before any handler module builds its
 * Powertools Logger: every log line at every level, and the whole incoming
 * event of each invocation, so the tests' scan for plaintexts and keys sees
 * everything a handler could write.
 */
process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
process.env.POWERTOOLS_LOGGER_LOG_EVENT = 'true';

export {};
