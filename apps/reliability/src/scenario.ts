import type { ServerProcess, StartOptions } from './server.ts'

export type Mode = 'quick' | 'full'

export type Figures = Record<string, string | number>

/** What a scenario reports: its load, whether it held, and the figures that show it. */
export interface ScenarioResult {
  name: string
  load: string
  /** `'skipped'` when the server under test lacks what the scenario needs (named in `failures`). */
  outcome: 'pass' | 'fail' | 'skipped'
  figures: Figures
  failures: string[]
  seconds: number
}

export interface ScenarioContext {
  mode: Mode
  /** Starts a server under test; every one started this way is stopped after the scenario. */
  startServer(options?: StartOptions): Promise<ServerProcess>
  /** Progress lines (to stderr in the CLI, silent in tests unless asked). */
  log(message: string): void
}

/** A scenario fills `report` as it goes, so a timeout still leaves the figures gathered so far. */
export interface Report {
  load: string
  figures: Figures
  failures: string[]
  skipped?: string
}

export interface Scenario {
  name: string
  /** The ports it needs; without them it is skipped and the report says why. */
  needs: Array<'echo' | 'message' | 'binary' | 'http'>
  run(context: ScenarioContext, report: Report): Promise<void>
}

/** Records a failed expectation: the scenario fails, the run goes on to gather the rest. */
export function expect(report: Report, condition: boolean, failure: string): boolean {
  if (!condition) report.failures.push(failure)
  return condition
}
