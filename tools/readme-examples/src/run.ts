import { execFile } from 'node:child_process'

export interface RunOptions {
  /** Working directory (the package). */
  readonly cwd: string
  /** Added to the child's environment. */
  readonly env?: Readonly<Record<string, string>>
  /** An example still running after this many ms is killed and fails. @default 20000 */
  readonly timeoutMs?: number
}

export interface RunResult {
  /** Exit status, `null` when killed. */
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly timedOut: boolean
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs a script file in a fresh `node` process and collects what it printed. A script that does
 * not exit by itself within the timeout is killed: a complete example must end on its own.
 */
export function runScript(file: string, options: RunOptions): Promise<RunResult> {
  const { cwd, env = {}, timeoutMs = 20_000 } = options
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env }
  // The test runner's own colour and worker settings are not the example's business.
  delete childEnv.FORCE_COLOR
  delete childEnv.NODE_OPTIONS
  return new Promise((resolve) => {
    const started = Date.now()
    execFile(
      process.execPath,
      [file],
      { cwd, env: childEnv, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const e = error as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null
        const status = e ? (typeof e.code === 'number' ? e.code : null) : 0
        const signal = e?.signal ?? null
        resolve({
          status,
          signal,
          timedOut: signal === 'SIGKILL' && Date.now() - started >= timeoutMs,
          stdout,
          stderr,
        })
      },
    )
  })
}
