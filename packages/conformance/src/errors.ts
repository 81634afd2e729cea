/** What a failed expectation reports: what was sent, what was expected, what came back. */
export interface FailureDetail {
  readonly sent: string
  readonly expected: string
  readonly got: string
}

/** A server did not conform. Its message is the one-line reason shown for the case. */
export class CaseFailure extends Error {
  readonly code = 'ERR_CONFORMANCE_FAILURE'
  readonly sent: string
  readonly expected: string
  readonly got: string

  constructor({ sent, expected, got }: FailureDetail) {
    super(`sent ${sent}; expected ${expected}; got ${got}`)
    this.name = 'CaseFailure'
    this.sent = sent
    this.expected = expected
    this.got = got
  }
}

/** A case that cannot run against this server (it says why). */
export class CaseSkipped extends Error {
  readonly code = 'ERR_CONFORMANCE_SKIPPED'
  constructor(reason: string) {
    super(reason)
    this.name = 'CaseSkipped'
  }
}

/** Throws a `CaseFailure`. */
export function fail(sent: string, expected: string, got: string): never {
  throw new CaseFailure({ sent, expected, got })
}
