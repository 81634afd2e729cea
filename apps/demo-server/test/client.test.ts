import { randomBytes } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { MessageClient } from './message-client.ts'
import { CLI, CLIENT, expectResumed, runClient, spawnRun, startServer, tempDir } from './process.ts'

const built = existsSync(CLI) && existsSync(CLIENT)
const BENCH = fileURLToPath(new URL('../bench', import.meta.url))

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
}

describe.skipIf(!built)('demo-client binary (dist/client.js)', () => {
  it('chat: two people talk privately, in a room and to everyone', async () => {
    const { ports } = await startServer()
    const args = ['chat', '--message-port', String(ports.message)]
    const ada = runClient(args, { stdin: true })
    const bob = runClient(args, { stdin: true })
    const idOf = async (run: typeof ada) =>
      /as (\S+)/.exec(await run.textLine((l) => l.startsWith('* connected to')))?.[1] as string
    const [adaId, bobId] = [await idOf(ada), await idOf(bob)]
    const say = (run: typeof ada, line: string) => run.child.stdin?.write(`${line}\n`)

    say(ada, `/msg ${bobId} hello bob`)
    await bob.textLine((l) => l === `[private] ${adaId}: hello bob`)

    say(bob, '/join lobby')
    await bob.textLine((l) => l === '* you joined lobby')
    say(ada, '/join lobby')
    await bob.textLine((l) => l === `* ${adaId} joined lobby`)
    // Plain text goes to the current room.
    say(bob, 'hi room')
    await ada.textLine((l) => l === `[lobby] ${bobId}: hi room`)

    say(ada, '/all hello everyone')
    await bob.textLine((l) => l === `[all] ${adaId}: hello everyone`)
    say(ada, '/nonsense')
    await ada.textLine((l) => l === '! unknown command /nonsense (/help lists the commands)')

    say(ada, '/quit')
    expect((await ada.exited).code).toBe(0)
    await bob.textLine((l) => l === `* ${adaId} left lobby`)
    bob.child.stdin?.end() // Ctrl-D
    expect((await bob.exited).code).toBe(0)
  })

  it('chat and ping say plainly when no server listens', async () => {
    const { code, stderr } = await runClient(['ping', '--message-port', '1', '--binary-port', '1'])
      .exited
    expect(code).toBe(1)
    expect(stderr).toContain('nothing listens on 127.0.0.1:1: is the server running (npm start)?')
  })

  it('ping: round trips over the message port and the binary port', async () => {
    const { ports } = await startServer()
    const run = runClient([
      'ping',
      '--count',
      '3',
      '--message-port',
      String(ports.message),
      '--binary-port',
      String(ports.binary),
    ])
    const { code, stdout } = await run.exited
    expect(code).toBe(0)
    expect(stdout).toMatch(/message 127\.0\.0\.1:\d+: 3 round trips, min\/avg\/max = /)
    expect(stdout).toMatch(/binary 127\.0\.0\.1:\d+: 3 round trips, min\/avg\/max = /)
  })

  it('bench: messages per second and percentiles, for ping-pong and room fan-out, each message counted by the server too', async () => {
    const { ports } = await startServer()
    const sent = async (type: string) =>
      Number(
        new RegExp(
          `^verb_tcp_messages_sent_total\\{port="message",type="${type}"\\} (\\d+)$`,
          'm',
        ).exec(await scrape(ports.http))?.[1] ?? 0,
      )
    for (const mode of ['pingpong', 'fanout']) {
      const type = mode === 'pingpong' ? 'pong' : 'room_message'
      const before = await sent(type)
      const run = runClient([
        'bench',
        '--json',
        '--mode',
        mode,
        '--connections',
        '6',
        '--rooms',
        '2',
        '--duration',
        '0.5',
        '--warmup',
        '0.1',
        '--message-port',
        String(ports.message),
      ])
      const { code, stdout } = await run.exited
      expect(code).toBe(0)
      const result = JSON.parse(stdout.trim().split('\n').at(-1) as string)
      expect(result).toMatchObject({ target: 'verb', mode, connections: 6 })
      expect(result.messagesPerSecond).toBeGreaterThan(0)
      expect(result.p50).toBeGreaterThan(0)
      expect(result.p999).toBeGreaterThanOrEqual(result.p99)
      // Pings are counted from their pongs; a room message from its deliveries (two rooms of
      // three: two each).
      expect(result.totalReceived).toBe((await sent(type)) - before)
      expect(result.totalReceived).toBe(
        mode === 'pingpong' ? result.totalSent : result.totalSent * 2,
      )
    }
  })

  for (const server of ['socketio', 'docs', 'trivial']) {
    it(`bench against the benchmark's ${server} server: what it counts it sent, the generator received`, async () => {
      const run = spawnRun(process.execPath, [join(BENCH, `${server}-server.mjs`), '0'], {
        stdin: true,
      })
      const { port } = JSON.parse(await run.textLine((l) => l.includes('"listening"')))
      for (const mode of ['pingpong', 'fanout']) {
        const bench = runClient([
          'bench',
          '--json',
          '--target',
          server === 'trivial' ? 'docs' : server,
          '--mode',
          mode,
          '--connections',
          '5',
          '--processes',
          '2',
          '--duration',
          '0.3',
          '--warmup',
          '0.1',
          '--message-port',
          String(port),
        ])
        const { code, stdout } = await bench.exited
        expect(code).toBe(0)
        const result = JSON.parse(stdout.trim().split('\n').at(-1) as string)
        expect(result.messagesPerSecond).toBeGreaterThan(0)
        run.child.stdin?.write('count\n')
        const counted = run.text.length
        const line = await run.textLine(
          (l) => l.startsWith('{"counts"') && run.text.indexOf(l) >= counted,
        )
        const counts = JSON.parse(line).counts
        if (mode === 'pingpong') {
          // The fan-out's joins are confirmed by pings too: only the ping-pong run is compared.
          expect(counts.pong).toBe(result.totalReceived)
          expect(result.totalSent).toBe(result.totalReceived)
        } else {
          expect(counts.room_message).toBe(result.totalReceived)
          expect(result.totalReceived).toBe(result.totalSent * 4)
        }
      }
    })
  }

  for (const workers of [1, 2]) {
    it(`send and resume: an upload cut off by a killed client resumes and is verified${workers > 1 ? ', on another worker' : ''}`, async () => {
      const dir = tempDir()
      const uploads = join(dir, 'uploads')
      const state = join(dir, 'state.json')
      const env = { VERB_TCP_UPLOAD_DIR: uploads, VERB_TCP_CLIENT_STATE: state }
      const { ports } = await startServer(['--workers', String(workers), '--rooms', 'per-worker'], {
        env,
      })
      const file = join(dir, 'big.bin')
      const block = randomBytes(1024 * 1024)
      const content = Buffer.concat(
        Array.from({ length: 128 }, (_, i) => Buffer.concat([Buffer.from([i]), block.subarray(1)])),
      )
      writeFileSync(file, content)
      const target = ['--binary-port', String(ports.binary)]

      const first = runClient(['send', file, ...target], { env })
      const started = await first.textLine((l) => l.startsWith('transfer '))
      const id = started.split(' ')[1] as string
      // Plain progress lines when stdout is not a terminal.
      const progress = await first.textLine((l) => l.startsWith('progress '))
      expect(progress).toMatch(/^progress \d+ of 134217728 bytes \(\d+%\), [\d.,]+ MiB\/s, ETA /)
      first.child.kill('SIGKILL')
      await first.exited
      expect(first.text.some((l) => l.startsWith('uploaded '))).toBe(false)

      await expectResumed(id, target, env, { name: 'big.bin', content, uploads })

      const metrics = await scrape(ports.http)
      expect(metrics).toMatch(/^verb_tcp_transfers_total\{outcome="completed"\} 1$/m)
    }, 60_000)
  }

  it('--workers: one listening line, clients on every worker, metrics added up, SIGTERM reaches them all', async () => {
    const { run, ports } = await startServer(['--workers', '2', '--rooms', 'per-worker'])
    expect(run.lines.filter((l) => l.msg === 'listening')).toEqual([
      expect.objectContaining({ workers: 2 }),
    ])
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => MessageClient.join(ports.message)),
    )
    // The primary hands connections to the workers in turn.
    const workers = new Set(clients.map((c) => c.id.split('-')[0]))
    expect(workers).toEqual(new Set(['w1', 'w2']))
    const metrics = await scrape(ports.http)
    expect(metrics).toMatch(/^verb_tcp_connections\{port="message"\} 4$/m)

    run.child.kill('SIGTERM')
    for (const client of clients) await client.next((m) => m.type === 'server_shutdown')
    const { code } = await run.exited
    expect(code).toBe(0)
    expect(run.lines.find((l) => l.msg === 'server closed')).toMatchObject({ closed: 4, forced: 0 })
  })
})
