import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { GREETING } from '../src/echo.ts'
import { Client } from './helpers.ts'
import { MessageClient } from './message-client.ts'
import { alive, CLI, FREE_PORTS, type Ports, spawnRun } from './process.ts'

const built = existsSync(CLI)
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/**
 * `npm start` as a terminal runs it: in a process group of its own, where Ctrl-C is SIGINT to
 * every process of the group (npm, scripts/run.mjs, and whatever they started).
 */
async function npmStart(args: string[]) {
  const run = spawnRun(npm, ['start', '--', ...FREE_PORTS, ...args], { group: true })
  const listening = await run.line((l) => l.msg === 'listening')
  const ctrlC = () => process.kill(-(run.child.pid as number), 'SIGINT')
  return { run, ports: listening.ports as Ports, serverPid: listening.pid as number, ctrlC }
}

// npm start installs and builds first (a no-op after the root test command's build), so these
// need the built tree like the other binary tests.
describe.skipIf(!built || process.platform === 'win32')('npm start and Ctrl-C', () => {
  it('Ctrl-C stops the server gracefully, and npm returns only once the server has exited', async () => {
    const { run, ports, serverPid, ctrlC } = await npmStart([])
    expect(serverPid).not.toBe(run.child.pid)
    const client = await MessageClient.join(ports.message)

    ctrlC()
    expect(await client.next((m) => m.type === 'server_shutdown')).toBeDefined()
    await run.exited
    // By the time npm has exited, the server has logged its last line and is gone.
    expect(run.lines.filter((l) => l.msg === 'shutting down')).toEqual([
      expect.objectContaining({ signal: 'SIGINT', connections: 1 }),
    ])
    expect(run.lines.find((l) => l.msg === 'server closed')).toMatchObject({ closed: 1, forced: 0 })
    expect(alive(serverPid)).toBe(false)
  }, 60_000)

  it('a second Ctrl-C closes the connections left at once', async () => {
    const { run, ports, serverPid, ctrlC } = await npmStart(['--grace-period', '600000'])
    // A half-open client keeps its side open: only the forced stop ends it.
    const stubborn = await Client.connect(ports.echo, { allowHalfOpen: true })
    await stubborn.bytes(GREETING.length)

    ctrlC()
    await run.line((l) => l.msg === 'shutting down')
    // One Ctrl-C reaches run.mjs twice (from the terminal, and forwarded by npm) within
    // microseconds and counts once; a person's second Ctrl-C comes much later than that.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(alive(serverPid)).toBe(true)
    ctrlC()
    await run.exited
    expect(
      run.lines.find((l) => l.msg === 'second signal: closing the remaining connections now'),
    ).toMatchObject({
      signal: 'SIGINT',
    })
    expect(run.lines.find((l) => l.msg === 'server closed')).toMatchObject({ closed: 0, forced: 1 })
    expect(alive(serverPid)).toBe(false)
  }, 60_000)
})
