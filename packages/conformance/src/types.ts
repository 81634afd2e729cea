import type { Peer } from './peer.ts'

/** The wire formats the suite knows. */
export type Protocol = 'json-frames' | 'binary-frames' | 'mux' | 'file-transfer'

/** The result of one case. */
export type CaseStatus = 'pass' | 'fail' | 'skip'

/** What a case needs from the runner: where the server is, how long to wait, connections. */
export interface CaseContext {
  readonly host: string
  readonly port: number
  /** How long one expectation may wait for the server, in ms (`--timeout`). */
  readonly timeout: number
  /** The largest frame the server accepts, in payload bytes (`--max-frame-bytes`). */
  readonly maxFrameBytes: number
  /** Bytes sent before a mux session starts (`--mux-upgrade`); empty for none. */
  readonly muxUpgrade: Uint8Array
  /** A new connection to the server, closed by the runner when the case ends. */
  connect(): Promise<Peer>
  /** Marks the case as skipped (it cannot be run against this server), with the reason. */
  skip(reason: string): never
}

/** One case of the suite. */
export interface Case {
  /** Stable id, `<protocol>/<section>.<n>`, e.g. `json-frames/3.2`. */
  readonly id: string
  /** One line: what is sent. */
  readonly title: string
  /** The section of the wire description the case tests: a README heading of that package. */
  readonly section: string
  /** What a conforming server must do. */
  readonly expect: string
  /** Runs alone, after the concurrent cases (floods, large frames). */
  readonly exclusive?: boolean
  /** Resolves when the server conformed; rejects with a `CaseFailure` saying what went wrong. */
  run(context: CaseContext): Promise<void>
}

/** A case as listed (`--list`, `listCases`): everything but `run`. */
export interface CaseInfo {
  readonly id: string
  readonly protocol: Protocol
  readonly title: string
  readonly section: string
  /** Link to the section in the package's README. */
  readonly reference: string
  readonly expect: string
}

/** What became of one case. */
export interface CaseResult extends CaseInfo {
  readonly status: CaseStatus
  /** For `fail` and `skip`: one line, what was sent, what was expected and what came back. */
  readonly reason?: string
  readonly durationMs: number
}

/** What `run` was asked and what it found. */
export interface RunReport {
  readonly protocol: Protocol
  readonly host: string
  readonly port: number
  readonly results: readonly CaseResult[]
  readonly passed: number
  readonly failed: number
  readonly skipped: number
  readonly durationMs: number
  /** True when no selected case failed. */
  readonly ok: boolean
}

/** Options of `run`. */
export interface RunOptions {
  readonly protocol: Protocol
  readonly host?: string
  readonly port: number
  /** Glob(s) over case ids (`*` any run of characters, `?` one): only these run. */
  readonly only?: string | readonly string[]
  /** How long one expectation may wait, in ms. Default 2000. */
  readonly timeout?: number
  /** The server's frame limit, in payload bytes. Default 8388608 (8 MiB, the packages' default). */
  readonly maxFrameBytes?: number
  /**
   * Mux only: `'auto'` (default) detects the demo's binary-port upgrade (type 0x30, sent and
   * echoed), `'none'` speaks mux from the first byte, or the exact bytes to send and expect back.
   */
  readonly muxUpgrade?: 'auto' | 'none' | Uint8Array
  /** Cases run at once (the exclusive ones always alone). Default 8; 1 for mux. */
  readonly concurrency?: number
  /** Called as each case finishes. */
  readonly onResult?: (result: CaseResult) => void
  readonly signal?: AbortSignal
}
