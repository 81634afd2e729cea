import { randomBytes, X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { GREETING } from '../src/echo.ts'
import { defer } from './helpers.ts'
import { MessageClient } from './message-client.ts'
import {
  CLI,
  CLIENT,
  expectResumed,
  FREE_PORTS,
  type Run,
  runClient,
  runServer,
  startServer,
  tempDir,
} from './process.ts'

const built = existsSync(CLI) && existsSync(CLIENT)
/** Two workers (rooms through the primary: no Redis here), a short grace period. */
const WORKERS = ['--workers', '2', '--grace-period', '5000']

// core's two test pairs for localhost / 127.0.0.1.
const fixture = (name: string) =>
  readFileSync(new URL(`../../../packages/core/test/fixtures/${name}`, import.meta.url), 'utf8')
const A = { key: fixture('key.pem'), cert: fixture('cert.pem') }
const B = { key: fixture('key2.pem'), cert: fixture('cert2.pem') }
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256

/** Certificate files the way a renewal writes them: a new file renamed over the old one. */
function certFiles(pair: { key: string; cert: string }) {
  const dir = tempDir()
  const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }
  const put = (next: { key?: string; cert?: string }) => {
    for (const name of ['key', 'cert'] as const) {
      const text = next[name]
      if (text === undefined) continue
      writeFileSync(`${files[name]}.new`, text)
      renameSync(`${files[name]}.new`, files[name])
    }
  }
  put(pair)
  return { ...files, put, args: ['--tls-cert', files.cert, '--tls-key', files.key] }
}

async function tlsClient(port: number): Promise<TLSSocket> {
  const socket = tlsConnect({
    port,
    host: '127.0.0.1',
    servername: 'localhost',
    ca: [A.cert, B.cert],
  })
  socket.on('error', () => {})
  defer(() => socket.destroy())
  await once(socket, 'secureConnect')
  return socket
}
const served = (socket: TLSSocket) => socket.getPeerX509Certificate()?.fingerprint256
/** The fingerprint a new connection is served; the connection is closed again. */
async function servedNow(port: number): Promise<string | undefined> {
  const socket = await tlsClient(port)
  const fingerprint256 = served(socket)
  socket.destroy()
  return fingerprint256
}

/** Reads from `socket` until `text` has arrived (or it closes); returns everything read. */
function readUntil(socket: TLSSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = ''
    const onData = (chunk: Buffer) => {
      got += chunk.toString()
      if (got.includes(text)) done()
    }
    const done = () => {
      socket.off('data', onData)
      resolve(got)
    }
    socket.on('data', onData)
    socket.once('close', done)
  })
}

/** SIGHUP, then the primary's `reload complete` line of that generation. */
async function reload(run: Run, generation: number) {
  run.child.kill('SIGHUP')
  return run.line((l) => l.msg === 'reload complete' && l.generation === generation)
}

/** How long a connection may wait for its welcome before the loop calls it stuck. */
const STALL_MS = 10_000

interface LoopResult {
  attempts: number
  greeted: number
  failures: string[]
  /** Worker ids (`w3`) that greeted someone. */
  workers: Set<string>
}

/**
 * `parallel` connectors on the message port, each connecting again as soon as its previous
 * connection was greeted (a `welcome` frame), until `stop()` is called or `maxAttempts` were
 * made. Every connection is counted; a refusal, a reset or a close before the welcome is a
 * failure, recorded with its reason.
 */
function connectLoop(port: number, parallel: number, maxAttempts: number) {
  const result: LoopResult = { attempts: 0, greeted: 0, failures: [], workers: new Set() }
  let stopped = false
  const one = () =>
    new Promise<void>((resolve) => {
      result.attempts++
      const socket = connect(port, '127.0.0.1')
      let got = ''
      let settled = false
      const settle = (failure?: string) => {
        if (settled) return
        settled = true
        if (failure) result.failures.push(failure)
        socket.destroy()
        resolve()
      }
      // A bound, not a timing assertion: a connection never greeted fails instead of hanging.
      socket.setTimeout(STALL_MS, () => settle(`no welcome after ${STALL_MS} ms`))
      socket.setEncoding('utf8')
      socket.on('data', (chunk: string) => {
        got += chunk
        // json-frames: "<byte length>\n<json>"; the welcome is the first frame.
        const newline = got.indexOf('\n')
        if (newline === -1) return
        const length = Number(got.slice(0, newline))
        if (Buffer.byteLength(got.slice(newline + 1)) < length) return
        const welcome = JSON.parse(got.slice(newline + 1, newline + 1 + length))
        if (welcome.type !== 'welcome') return settle(`first message ${welcome.type}`)
        result.greeted++
        result.workers.add(String(welcome.connectionId).split('-')[0] ?? '')
        settle()
      })
      socket.on('error', (error: NodeJS.ErrnoException) => settle(error.code ?? error.message))
      socket.on('close', () => settle('closed before the welcome'))
    })
  const worker = async () => {
    while (!stopped && result.attempts < maxAttempts) await one()
  }
  const done = Promise.all(Array.from({ length: parallel }, worker)).then(() => result)
  return {
    result,
    stop: () => {
      stopped = true
      return done
    },
  }
}

describe.skipIf(!built)('reload (SIGHUP)', () => {
  it('--workers 2: five reloads in a row while clients connect continuously: none refused or reset, every one greeted', async () => {
    const { run, ports } = await startServer(WORKERS)
    const loop = connectLoop(ports.message, 8, 200_000)
    for (let generation = 2; generation <= 6; generation++) {
      // Each reload starts only once connections are flowing to the current generation.
      const before = loop.result.greeted
      await run.line((l) => l.msg === 'listening' || l.msg === 'reload complete')
      while (loop.result.greeted < before + 50 && loop.result.failures.length === 0) {
        await new Promise((resolve) => setImmediate(resolve))
      }
      await reload(run, generation)
    }
    const result = await loop.stop()
    expect(result.failures).toEqual([])
    expect(result.greeted).toBe(result.attempts)
    // The loop ran through every generation: 2 workers each, 6 generations.
    expect(result.workers.size).toBeGreaterThanOrEqual(10)
    expect(run.lines.filter((l) => l.msg === 'reload failed')).toEqual([])
  }, 120_000)

  it('clients connected before a reload get the goodbye notice after their last answers; new clients reach the new workers', async () => {
    const { run, ports } = await startServer(WORKERS)
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => MessageClient.join(ports.message)),
    )
    expect(new Set(clients.map((c) => c.id.split('-')[0]))).toEqual(new Set(['w1', 'w2']))
    for (const [i, client] of clients.entries()) client.send({ type: 'ping', id: `last-${i}` })
    run.child.kill('SIGHUP')
    for (const [i, client] of clients.entries()) {
      const notice = await client.next((m) => m.type === 'server_shutdown')
      expect(notice).toMatchObject({ gracePeriod: 5000 })
      // The ping sent before the reload was answered, and before the notice.
      const pong = client.received.findIndex((m) => m.type === 'pong' && m.id === `last-${i}`)
      expect(pong).toBeGreaterThanOrEqual(0)
      expect(pong).toBeLessThan(client.received.indexOf(notice))
      await client.untilClosed()
    }
    const complete = await run.line((l) => l.msg === 'reload complete')
    expect(complete).toMatchObject({ generation: 2, closed: 4, forced: 0 })

    const after = await MessageClient.join(ports.message)
    expect(['w3', 'w4']).toContain(after.id.split('-')[0])
    after.send({ type: 'ping', id: 'new' })
    expect(await after.next((m) => m.type === 'pong')).toMatchObject({ id: 'new' })
    const health = await (await fetch(`http://127.0.0.1:${ports.http}/healthz`)).json()
    expect(health).toMatchObject({ status: 'ok', workers: 2, generation: 2 })
    // The one /metrics port adds up the workers serving now (the old ones have exited).
    const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text()
    expect(metrics).toMatch(/^verb_tcp_connections\{port="message"\} 1$/m)
  }, 60_000)

  it('--workers with TLS: the new generation serves renewed certificate files; a bad pair fails the reload and the old workers go on', async () => {
    const files = certFiles(A)
    const { run, ports } = await startServer([...WORKERS, ...files.args])
    const before = await tlsClient(ports.echo)
    expect(served(before)).toBe(fingerprint(A.cert))

    // A key that does not match: the new workers cannot start, the old ones stay.
    files.put({ key: B.key })
    run.child.kill('SIGHUP')
    await run.line(
      (l) =>
        l.msg === 'reload failed: the new workers did not all start; the old ones go on serving',
    )
    expect(await servedNow(ports.echo)).toBe(fingerprint(A.cert))
    before.write('still served')
    expect(await readUntil(before, 'still served')).toContain('Echo: still served')
    before.resume() // reads the goodbye when its worker retires, and closes

    files.put({ cert: B.cert })
    await reload(run, 3) // generation 2 was the one that failed
    const after = await tlsClient(ports.echo)
    expect(served(after)).toBe(fingerprint(B.cert))
    expect(await readUntil(after, GREETING)).toContain(GREETING)
  }, 60_000)

  it('one process with TLS: SIGHUP (or a change of the files) swaps the certificate; open connections stay; a mismatched pair is logged and the old one stays', async () => {
    const files = certFiles(A)
    const { run, ports } = await startServer(files.args)
    expect(run.lines.find((l) => l.msg === 'serving TLS')).toMatchObject({
      fingerprint256: fingerprint(A.cert),
    })
    const before = await tlsClient(ports.echo)
    const message = await tlsClient(ports.message)
    expect(served(message)).toBe(fingerprint(A.cert))
    expect(await readUntil(message, 'welcome')).toContain('"type":"welcome"')

    files.put(B)
    run.child.kill('SIGHUP')
    await run.line((l) => l.msg === 'certificate reloaded')
    expect(await servedNow(ports.echo)).toBe(fingerprint(B.cert))
    expect(await servedNow(ports.binary)).toBe(fingerprint(B.cert))
    before.write('old')
    expect(await readUntil(before, 'Echo: old')).toContain('Echo: old')

    files.put({ key: A.key })
    run.child.kill('SIGHUP')
    expect(
      await run.line((l) => l.msg === 'certificate reload failed; the old one stays'),
    ).toMatchObject({ code: 'ERR_TLS_KEY_MISMATCH' })
    expect(await servedNow(ports.message)).toBe(fingerprint(B.cert))
  }, 60_000)

  it('refuses to start with certificate files that are not a pair, saying why', async () => {
    const files = certFiles({ key: B.key, cert: A.cert })
    const run = runServer([...FREE_PORTS, ...files.args])
    const { code, stderr } = await run.exited
    expect(code).toBe(1)
    expect(stderr).toMatch(
      /^demo-server: could not start TLS \(--tls-cert, --tls-key\): .*private key does not belong/,
    )
  })

  it('demo-server reload --pid-file sends SIGHUP to the server that wrote it', async () => {
    const pidFile = join(tempDir(), 'demo.pid')
    const { run } = await startServer([...WORKERS, '--pid-file', pidFile])
    expect(Number(readFileSync(pidFile, 'utf8'))).toBe(run.child.pid)
    const sent = runServer(['reload', '--pid-file', pidFile])
    const { code, stdout } = await sent.exited
    expect(code).toBe(0)
    expect(stdout).toBe(`demo-server reload: sent SIGHUP to ${run.child.pid}\n`)
    await run.line((l) => l.msg === 'reload complete' && l.generation === 2)

    run.child.kill('SIGTERM')
    await run.exited
    expect(existsSync(pidFile)).toBe(false)
    const late = await runServer(['reload', '--pid-file', pidFile]).exited
    expect(late.code).toBe(1)
    expect(late.stderr).toContain('no pid file at')
  }, 60_000)

  it('an upload in progress during a reload completes by resume on the new workers, its digest verified', async () => {
    const dir = tempDir()
    const uploads = join(dir, 'uploads')
    const env = { VERB_TCP_UPLOAD_DIR: uploads, VERB_TCP_CLIENT_STATE: join(dir, 'state.json') }
    const { run, ports } = await startServer(['--workers', '2', '--grace-period', '2000'], { env })
    const file = join(dir, 'big.bin')
    const content = randomBytes(64 * 1024 * 1024)
    writeFileSync(file, content)
    const target = ['--binary-port', String(ports.binary)]

    const first = runClient(['send', file, ...target], { env })
    const id = (await first.textLine((l) => l.startsWith('transfer '))).split(' ')[1] as string
    await first.textLine((l) => l.startsWith('progress '))
    // Held still, so the reload is sure to catch the upload in the middle.
    first.child.kill('SIGSTOP')
    await reload(run, 2)
    first.child.kill('SIGCONT')
    await first.exited
    expect(first.text.some((l) => l.startsWith('uploaded '))).toBe(false)

    await expectResumed(id, target, env, { name: 'big.bin', content, uploads })
  }, 90_000)

  it('SIGTERM during a reload stops the workers still starting too, and the server exits 0', async () => {
    const { run } = await startServer(WORKERS)
    run.child.kill('SIGHUP')
    await run.line((l) => l.msg === 'reloading')
    run.child.kill('SIGTERM')
    const { code } = await run.exited
    expect(code).toBe(0)
    expect(run.lines.find((l) => l.msg === 'server closed')).toBeDefined()
  }, 60_000)
})
