import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { GOODBYE, GREETING } from '../src/server.ts'
import { Client, defer, type LogLine } from './helpers.ts'

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const built = existsSync(CLI)

interface Run {
  child: ChildProcess
  /** Parsed stdout lines so far (pino's JSON). */
  lines: LogLine[]
  /** Resolves with the first log line (already seen or still to come) that matches. */
  line(match: (line: LogLine) => boolean): Promise<LogLine>
  exited: Promise<{
    code: number | null
    signal: NodeJS.Signals | null
    stdout: string
    stderr: string
  }>
}

function run(args: string[]): Run {
  const env = { ...process.env }
  delete env.LOG_LEVEL
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  defer(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text
  })
  const lines: LogLine[] = []
  const waiting: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = []
  let stdout = ''
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    stdout += `${text}\n`
    if (!text.startsWith('{')) return // --help's text
    const line = JSON.parse(text) as LogLine
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
  return {
    child,
    lines,
    exited,
    line: (match) => {
      const seen = lines.find(match)
      if (seen) return Promise.resolve(seen)
      const next = new Promise<LogLine>((resolve) => waiting.push({ match, resolve }))
      const early = exited.then(({ code, stderr }): never => {
        throw new Error(`the CLI exited (code ${code}) before the expected log line; ${stderr}`)
      })
      return Promise.race([next, early])
    },
  }
}

// The root test command builds every package before running the tests; a bare `vitest run` in a
// fresh clone has no dist/ yet, and these tests are skipped rather than failed.
describe.skipIf(!built)('cli (dist/cli.js; skipped when not built: run the build first)', () => {
  it('listens, greets, echoes, and on SIGTERM says goodbye, closes and exits with 0', async () => {
    const cli = run(['--port', '0'])
    const listening = await cli.line((l) => l.msg === 'listening')
    expect(listening).toMatchObject({ level: 30, address: '127.0.0.1' })
    const port = listening.port as number
    expect(port).toBeGreaterThan(0)

    const client = await Client.connect(port)
    client.socket.write('hi\n')
    const echoed = Buffer.from(`${GREETING}Echo: hi\n`)
    expect(await client.bytes(echoed.length)).toEqual(echoed)
    await cli.line((l) => l.msg === 'client connected')

    cli.child.kill('SIGTERM')
    expect(await client.untilClosed()).toEqual(Buffer.concat([echoed, Buffer.from(GOODBYE)]))
    const { code, signal, stderr } = await cli.exited
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' })
    const messages = cli.lines.map((l) => l.msg)
    expect(messages).toEqual(
      expect.arrayContaining(['shutting down', 'server closed', 'client disconnected']),
    )
    expect(cli.lines.find((l) => l.msg === 'shutting down')).toMatchObject({
      signal: 'SIGTERM',
      connections: 1,
    })
    expect(cli.lines.find((l) => l.msg === 'server closed')).toMatchObject({ closed: 1, forced: 0 })
  })

  it('closes the connections left at once on a second signal', async () => {
    const cli = run(['--port', '0'])
    const { port } = (await cli.line((l) => l.msg === 'listening')) as LogLine & { port: number }
    // A half-open client does not close when the server says goodbye: it would hold the server
    // for the whole grace period (30 s).
    const client = await Client.connect(port, { allowHalfOpen: true })
    await client.bytes(GREETING.length)
    await cli.line((l) => l.msg === 'client connected')

    cli.child.kill('SIGTERM')
    await cli.line((l) => l.msg === 'shutting down')
    await client.bytes(GREETING.length + GOODBYE.length)
    cli.child.kill('SIGINT')
    expect((await cli.exited).code).toBe(0)
    expect(
      cli.lines.find((l) => l.msg === 'second signal: closing the remaining connections now'),
    ).toMatchObject({ level: 40, signal: 'SIGINT' })
    expect(cli.lines.find((l) => l.msg === 'server closed')).toMatchObject({ closed: 0, forced: 1 })
  })

  it('exits with 2 and a message on a bad --port', async () => {
    const { code, stderr } = await run(['--port', 'abc']).exited
    expect(code).toBe(2)
    expect(stderr).toContain('--port must be an integer from 0 to 65535, got "abc"')
  })

  it('exits with 2 on an unknown flag', async () => {
    const { code, stderr } = await run(['--prot', '8080']).exited
    expect(code).toBe(2)
    expect(stderr).toContain("Unknown option '--prot'")
  })

  it('prints the usage with --help and exits with 0', async () => {
    const { code, stdout } = await run(['--help']).exited
    expect(code).toBe(0)
    expect(stdout).toContain('Usage: demo-server')
  })

  it('exits with 1 and logs the error when the port is taken', async () => {
    const blocker = createServer()
    defer(() => new Promise((resolve) => blocker.close(resolve)))
    blocker.listen(0, '127.0.0.1')
    await once(blocker, 'listening')
    const { port } = blocker.address() as { port: number }

    const cli = run(['--port', String(port)])
    const failed = await cli.line((l) => l.msg === 'could not listen')
    expect(failed).toMatchObject({ level: 60, port, err: { code: 'EADDRINUSE' } })
    expect((await cli.exited).code).toBe(1)
    // Reported once, by the CLI, not a second time by the server's error handler.
    expect(cli.lines.filter((l) => l.level >= 50)).toHaveLength(1)
  })
})
