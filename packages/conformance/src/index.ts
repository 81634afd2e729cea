/**
 * A conformance suite for servers of the verb-tcp wire formats, as h2spec is for HTTP/2: every
 * case sends exact bytes and checks, byte by byte, what a conforming server must do (answer,
 * send a coded error, close, keep serving other connections). The same suite is the
 * `verb-tcp-conformance` command.
 *
 * @example
 * ```ts
 * import { run } from '@verb-tcp/conformance'
 *
 * const report = await run({ protocol: 'json-frames', host: '127.0.0.1', port: 8081 })
 * for (const r of report.results) if (r.status === 'fail') console.log(r.id, r.reason)
 * process.exitCode = report.ok ? 0 : 1
 * ```
 * @packageDocumentation
 */
export { CaseFailure, CaseSkipped, type FailureDetail } from './errors.ts'
export { formatJunit, formatList, formatText } from './report.ts'
export { listCases, PROTOCOLS, run } from './run.ts'
export type {
  CaseInfo,
  CaseResult,
  CaseStatus,
  Protocol,
  RunOptions,
  RunReport,
} from './types.ts'
