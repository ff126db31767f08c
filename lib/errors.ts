// The one error type for user mistakes: the CLI prints its message on one line, no stack trace.

/** A mistake the user can fix: bad file, missing field, unknown option. */
export class TunebookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TunebookError";
  }
}
