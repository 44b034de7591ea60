/**
 * A problem with the data or files a user pointed ngrad at: a missing or malformed file, an unknown data
 * set name, an impossible split, a corrupt checkpoint, an output path that cannot be written. Its message
 * is one line that says what is wrong and, where possible, how to fix it, so the CLI can print it without
 * a stack trace and exit with code 2 (bad input, not a bug).
 */
export class DataError extends Error {
  override readonly name = 'DataError';

  constructor(message: string) {
    super(message);
  }
}

/** True for a DataError, also one from another copy of this module (instanceof would miss that). */
export function isDataError(e: unknown): e is DataError {
  return e instanceof Error && e.name === 'DataError';
}
