import type { Mode, Report, Scenario, ScenarioResult } from './scenario.ts'
import { churn } from './scenarios/churn.ts'
import { faults } from './scenarios/faults.ts'
import { fuzz } from './scenarios/fuzz.ts'
import { hostile } from './scenarios/hostile.ts'
import { load } from './scenarios/load.ts'
import { redis } from './scenarios/redis.ts'
import { reload } from './scenarios/reload.ts'
import { ServerProcess, type StartOptions } from './server.ts'

/** Every scenario, in the order the suite runs them. */
export const SCENARIOS: Scenario[] = [load, churn, hostile, fuzz, faults, redis, reload]

export interface RunOptions {
  mode: Mode
  /** Server binary; the demo server's built CLI by default. */
  bin?: string
  log?: (message: string) => void
  /** Hard limit per scenario in ms; what was gathered until then is still reported. */
  timeout?: number
}

/** Runs one scenario against fresh servers, stops every server it started, and reports. */
export async function runScenario(
  scenario: Scenario,
  options: RunOptions,
): Promise<ScenarioResult> {
  const servers: ServerProcess[] = []
  const log = options.log ?? (() => {})
  const report: Report = { load: '', figures: {}, failures: [] }
  const started = Date.now()
  const context = {
    mode: options.mode,
    log,
    async startServer(start: StartOptions = {}) {
      const server = await ServerProcess.start({
        ...start,
        ...(options.bin === undefined ? {} : { bin: options.bin }),
      })
      servers.push(server)
      if (server.ignoredFlags.length > 0)
        log(`${scenario.name}: the server does not take --${server.ignoredFlags.join(', --')}`)
      return server
    },
  }
  const limit = options.timeout ?? (options.mode === 'full' ? 900_000 : 180_000)
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      scenario.run(context, report),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`scenario timed out after ${limit / 1000} s`)),
          limit,
        )
        timer.unref()
      }),
    ])
  } catch (error) {
    report.failures.push((error as Error).message)
  } finally {
    clearTimeout(timer)
    for (const server of servers) {
      if (!server.alive) continue
      await server.stop()
      if (server.exitSignal === 'SIGKILL')
        report.failures.push('the server did not stop on SIGTERM')
    }
  }
  return {
    name: scenario.name,
    load: report.load,
    outcome: report.skipped ? 'skipped' : report.failures.length > 0 ? 'fail' : 'pass',
    figures: report.figures,
    failures: report.skipped ? [report.skipped] : report.failures,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  }
}

export async function runSuite(
  options: RunOptions & { only?: readonly string[] },
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = []
  for (const scenario of SCENARIOS) {
    if (options.only && !options.only.includes(scenario.name)) continue
    options.log?.(`${scenario.name}: start (${options.mode})`)
    const result = await runScenario(scenario, options)
    options.log?.(
      `${scenario.name}: ${result.outcome} in ${result.seconds} s ${result.failures.join('; ')}`,
    )
    results.push(result)
  }
  return results
}
