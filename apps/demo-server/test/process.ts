import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import { defer, type LogLine } from './helpers.ts'

export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
export const CLIENT = fileURLToPath(new URL('../dist/client.js', import.meta.url))
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url))

/** Every port on a free one, so tests never collide with a running demo or with each other. */
export const FREE_PORTS = [
  '--port',
  '0',
  '--message-port',
  '0',
  '--binary-port',
  '0',
  '--http-port',
  '0',
]

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface Run {
  child: ChildProcess
  /** Parsed JSON stdout lines so far (pino's). */
  lines: LogLine[]
  /** Every stdout line so far, as text. */
  text: string[]
  /** Resolves with the first log line (already seen or still to come) that matches. */
  line(match: (line: LogLine) => boolean): Promise<LogLine>
  /** Resolves with the first text line that matches. */
  textLine(match: (line: string) => boolean): Promise<string>
  exited: Promise<Exit>
}

export interface RunOptions {
  env?: Record<string, string | undefined>
  /** Own process group (the child leads it), as a terminal runs a foreground job. */
  group?: boolean
  cwd?: string
  stdin?: boolean
}

/** A directory of its own, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'demo-server-test-'))
  defer(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Spawns `command args`, collecting its output; killed (its group too) after the test. Other
 * `VERB_TCP_*` variables of the test's environment are dropped; uploads and the client's state
 * go to a fresh directory unless the test says otherwise, never into the repository.
 */
export function spawnRun(command: string, args: string[], options: RunOptions = {}): Run {
  const scratch = tempDir()
  const env: Record<string, string | undefined> = { ...process.env }
  for (const name of Object.keys(env)) if (name.startsWith('VERB_TCP_')) delete env[name]
  Object.assign(env, {
    VERB_TCP_UPLOAD_DIR: join(scratch, 'uploads'),
    VERB_TCP_CLIENT_STATE: join(scratch, 'client-state.json'),
    ...options.env,
  })
  const child = spawn(command, args, {
    env,
    cwd: options.cwd ?? ROOT,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: options.group === true,
  })
  defer(() => {
    if (options.group && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {}
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text
  })
  const lines: LogLine[] = []
  const text: string[] = []
  const waiting: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = []
  const waitingText: { match: (line: string) => boolean; resolve: (line: string) => void }[] = []
  let stdout = ''
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (raw) => {
    stdout += `${raw}\n`
    text.push(raw)
    for (const w of waitingText.filter((w) => w.match(raw))) {
      waitingText.splice(waitingText.indexOf(w), 1)
      w.resolve(raw)
    }
    if (!raw.startsWith('{')) return
    let line: LogLine
    try {
      line = JSON.parse(raw) as LogLine
    } catch {
      return
    }
    lines.push(line)
    for (const w of waiting.filter((w) => w.match(line))) {
      waiting.splice(waiting.indexOf(w), 1)
      w.resolve(line)
    }
  })
  // 'close', not 'exit': by then stdout and stderr have been read to their end.
  const exited = once(child, 'close').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stdout,
    stderr,
  }))
  const early = <T>(what: string) =>
    exited.then(({ code, stderr }): T => {
      throw new Error(`the process exited (code ${code}) before ${what}; stderr: ${stderr}`)
    })
  return {
    child,
    lines,
    text,
    exited,
    line: (match) => {
      const seen = lines.find(match)
      if (seen) return Promise.resolve(seen)
      const next = new Promise<LogLine>((resolve) => waiting.push({ match, resolve }))
      return Promise.race([next, early<LogLine>('the expected log line')])
    },
    textLine: (match) => {
      const seen = text.find(match)
      if (seen !== undefined) return Promise.resolve(seen)
      const next = new Promise<string>((resolve) => waitingText.push({ match, resolve }))
      return Promise.race([next, early<string>('the expected output line')])
    },
  }
}

/** The demo server binary. */
export function runServer(args: string[], options: RunOptions = {}): Run {
  return spawnRun(process.execPath, [CLI, ...args], options)
}

/** The client CLI binary. */
export function runClient(args: string[], options: RunOptions = {}): Run {
  return spawnRun(process.execPath, [CLIENT, ...args], options)
}

export interface Ports {
  echo: number
  message: number
  binary: number
  http: number
}

/** Starts a server on free ports and resolves with them once it logs `listening`. */
export async function startServer(
  args: string[] = [],
  options: RunOptions = {},
): Promise<{ run: Run; ports: Ports }> {
  const run = runServer([...FREE_PORTS, ...args], options)
  const listening = await run.line((l) => l.msg === 'listening')
  return { run, ports: listening.ports as Ports }
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/**
 * `demo-client resume <id>` for an upload that was cut off: it must resume past byte 0, exit 0
 * with the server's digest verified, and leave the file intact in `uploads`.
 */
export async function expectResumed(
  id: string,
  args: string[],
  env: Record<string, string>,
  file: { name: string; content: Buffer; uploads: string },
): Promise<void> {
  const run = runClient(['resume', id, ...args], { env })
  const resumed = await run.textLine((l) => l.startsWith(`transfer ${id} resumed`))
  expect(Number(/at byte (\d+)/.exec(resumed)?.[1])).toBeGreaterThan(0)
  const { code, stdout } = await run.exited
  expect(code).toBe(0)
  const digest = sha256(file.content)
  expect(stdout).toContain(
    `uploaded ${file.name}: ${file.content.length} bytes, sha256 ${digest} (verified)`,
  )
  expect(sha256(readFileSync(join(file.uploads, file.name)))).toBe(digest)
}
