import { connect, type Socket } from 'node:net'
import { encodeFrame as encodeBinaryFrame } from '@verb-tcp/binary-frames'
import { encodeMessage } from '@verb-tcp/json-frames'
import fc from 'fast-check'
import { HEARTBEAT_FRAME } from '../clients.ts'
import { documentedCodes } from '../documented-codes.ts'
import { OPEN_LIMITS } from '../limits.ts'
import { expect, type Scenario } from '../scenario.ts'
import { type Ports, rssOf } from '../server.ts'
import { MiB, mib, sleep } from '../util.ts'

/** The seed of every property: a failure reproduces with the same command. */
export const FUZZ_SEED = 0x5eed17

interface Exchange {
  /** Everything the server sent, concatenated. */
  received: Buffer
  /** The server closed the connection (by end or reset) before we did. */
  closedByServer: boolean
  /** The probe sent after the fuzz input was answered. */
  probeAnswered: boolean
}

let sourceIndex = 0

/**
 * One connection: send `chunks` (each as its own write, a moment apart so they arrive as
 * separate segments), then a valid probe; wait for the probe's answer or the server's close.
 */
function exchange(
  port: number,
  chunks: readonly Uint8Array[],
  probe: Buffer,
  answered: (b: Buffer) => boolean,
  wait = 250,
): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket: Socket = connect({
      port,
      host: '127.0.0.1',
      localAddress: `127.0.2.${1 + (sourceIndex++ % 200)}`,
    })
    socket.setNoDelay(true)
    const parts: Buffer[] = []
    let closedByServer = false
    let probeAnswered = false
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ received: Buffer.concat(parts), closedByServer, probeAnswered })
    }
    // Input that leaves a frame unfinished makes the probe part of that frame: the server rightly
    // waits for the rest. That is counted as waiting, not as a hang; the health probe after each
    // protocol shows the server still serves.
    const timer = setTimeout(finish, wait)
    socket.on('error', () => {
      closedByServer = true
      finish()
    })
    socket.on('end', () => {
      closedByServer = true
      finish()
    })
    socket.on('data', (chunk: Buffer) => {
      parts.push(chunk)
      if (answered(Buffer.concat(parts))) {
        probeAnswered = true
        finish()
      }
    })
    socket.once('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return
        socket.write(chunk)
        if (chunks.length > 1) await sleep(2)
      }
      if (!socket.destroyed) socket.write(probe)
    })
  })
}

/** Valid traffic for each protocol, as lists of frames; the fuzzers cut and mutate these. */
const validMessage = fc
  .array(
    fc.oneof(
      fc.record({ type: fc.constant('ping'), id: fc.string() }),
      fc.record({
        type: fc.constantFrom('join_room', 'leave_room'),
        room: fc.string({ minLength: 1, maxLength: 8 }),
      }),
      fc.record({
        type: fc.constant('room_message'),
        room: fc.string({ maxLength: 8 }),
        data: fc.jsonValue(),
      }),
      fc.record({
        type: fc.constantFrom('broadcast', 'private'),
        to: fc.string(),
        data: fc.string(),
      }),
      fc.record({ type: fc.string(), data: fc.jsonValue() }),
      fc.jsonValue(),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((messages) => Buffer.concat(messages.map((m) => encodeMessage(m))))

const validBinary = fc
  .array(
    fc.oneof(
      fc.constant(HEARTBEAT_FRAME),
      fc
        .record({
          type: fc.integer({ min: 0, max: 0xffff }),
          payload: fc.uint8Array({ maxLength: 64 }),
          flags: fc.constantFrom(0, 1, 0x8000),
        })
        .map(({ type, payload, flags }) => encodeBinaryFrame(type, payload, flags)),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((frames) => Buffer.concat(frames))

/** Byte-level mutations of valid traffic: flips, insertions, deletions, digits in headers. */
function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      valid,
      fc.array(
        fc.record({
          at: fc.nat(),
          op: fc.constantFrom('flip', 'insert', 'delete', 'digit', 'ff'),
          byte: fc.integer({ min: 0, max: 255 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    )
    .map(([bytes, edits]) => {
      let out = Buffer.from(bytes)
      for (const { at, op, byte } of edits) {
        const i = out.length === 0 ? 0 : at % out.length
        if (op === 'flip' && out.length > 0) out[i] = (out[i] as number) ^ (1 << (byte % 8))
        else if (op === 'insert')
          out = Buffer.concat([out.subarray(0, i), Buffer.of(byte), out.subarray(i)])
        else if (op === 'delete') out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1)])
        else if (op === 'digit')
          out = Buffer.concat([out.subarray(0, i), Buffer.from(String(byte % 10)), out.subarray(i)])
        else if (op === 'ff' && out.length > 0) out[i] = 0xff
      }
      return out
    })
}

/** Cuts bytes into chunks at fast-check chosen points. */
function chunked(bytes: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer[]> {
  return fc.tuple(bytes, fc.array(fc.nat(), { maxLength: 4 })).map(([b, cuts]) => {
    const points = [...new Set(cuts.map((c) => (b.length === 0 ? 0 : c % b.length)))].sort(
      (x, y) => x - y,
    )
    const out: Buffer[] = []
    let last = 0
    for (const p of points) {
      out.push(b.subarray(last, p))
      last = p
    }
    out.push(b.subarray(last))
    return out.filter((c) => c.length > 0)
  })
}

interface Protocol {
  port: keyof Ports
  valid: fc.Arbitrary<Buffer>
  probe: () => { bytes: Buffer; answered: (received: Buffer) => boolean }
  /** A fixed exchange to cut at every point, and what must come back for it. */
  split: { bytes: Buffer; answered: (received: Buffer) => boolean }
  /** The error codes the server sent on this connection (json-frames `error` messages). */
  codes: (received: Buffer) => string[]
}

let probeId = 0
const messageProbe = () => {
  const id = `probe-${++probeId}`
  return { bytes: encodeMessage({ type: 'ping', id }), answered: (b: Buffer) => b.includes(id) }
}
const binaryProbe = () => ({
  bytes: HEARTBEAT_FRAME,
  // A PONG frame: type 0x0002, length 4, flags 0, "pong".
  answered: (b: Buffer) => b.includes(Buffer.from('0002000000040000706f6e67', 'hex')),
})

const PROTOCOLS: Protocol[] = [
  {
    port: 'message',
    valid: validMessage,
    probe: messageProbe,
    split: (() => {
      const bytes = Buffer.concat([
        encodeMessage({ type: 'ping', id: 'héllo ✓ split' }),
        encodeMessage({ type: 'join_room', room: 'split-room' }),
        encodeMessage({ type: 'ping', id: 'second' }),
      ])
      return { bytes, answered: (b: Buffer) => b.includes('second') && b.includes('héllo ✓ split') }
    })(),
    codes: (received) =>
      [...received.toString('utf8').matchAll(/"code":"([^"]*)"/g)].map((m) => m[1] as string),
  },
  {
    port: 'binary',
    valid: validBinary,
    probe: binaryProbe,
    split: {
      bytes: Buffer.concat([
        HEARTBEAT_FRAME,
        encodeBinaryFrame(0x0003, Buffer.from('data'), 0),
        HEARTBEAT_FRAME,
      ]),
      answered: (b: Buffer) => b.indexOf('pong') !== b.lastIndexOf('pong'),
    },
    codes: () => [],
  },
  {
    port: 'echo',
    valid: fc.uint8Array({ minLength: 1, maxLength: 512 }).map((b) => Buffer.from(b)),
    probe: () => {
      const line = `probe ${++probeId}\n`
      return { bytes: Buffer.from(line), answered: (b: Buffer) => b.includes(line) }
    },
    split: {
      bytes: Buffer.from('héllo ✓ split line\n'),
      answered: (b: Buffer) =>
        b
          .toString('latin1')
          .replaceAll('Echo: ', '')
          .includes(Buffer.from('héllo ✓ split line\n').toString('latin1')),
    },
    codes: () => [],
  },
]

/**
 * fast-check against the live server, seeded: random bytes, mutated valid traffic and random
 * chunkings for each port's protocol, then every split point of a fixed exchange. After each
 * input a valid probe follows: the server must answer it or close the connection, never hang
 * it; it must stay up, send only documented error codes, and keep its memory bounded.
 */
export const fuzz: Scenario = {
  name: 'fuzz',
  needs: ['echo'],
  async run({ mode, startServer, log }, report) {
    const runs = mode === 'full' ? 1000 : 100
    const server = await startServer({ flags: { ...OPEN_LIMITS } })
    const protocols = PROTOCOLS.filter((p) => server.ports[p.port] !== undefined)
    report.load = `seed ${FUZZ_SEED}; per port (${protocols.map((p) => p.port).join(', ')}): ${runs} random-byte and ${runs} mutated-traffic connections in random chunks, then every split point of a valid exchange`
    const documented = documentedCodes(server.bin)
    const undocumented = new Set<string>()
    const baseRss = rssOf(server.pid)
    let peakRss = baseRss
    let connections = 0
    let waiting = 0
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssOf(server.pid) || 0)
    }, 250)
    try {
      for (const protocol of protocols) {
        const port = server.ports[protocol.port] as number
        let answered = 0
        let closed = 0
        const check = async (chunks: Buffer[]) => {
          const probe = protocol.probe()
          const result = await exchange(port, chunks, probe.bytes, probe.answered)
          connections++
          for (const code of protocol.codes(result.received))
            if (!documented.has(code)) undocumented.add(code)
          if (result.probeAnswered) answered++
          else if (result.closedByServer) closed++
          else waiting++
          return server.alive
        }
        for (const [kind, input] of [
          ['random bytes', chunked(fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)))],
          ['mutated traffic', chunked(mutated(protocol.valid))],
        ] as const) {
          log(`fuzz: ${protocol.port}: ${kind}`)
          const outcome = await fc.check(fc.asyncProperty(input, check), {
            seed: FUZZ_SEED,
            numRuns: runs,
            endOnFailure: true,
          })
          if (outcome.failed)
            report.failures.push(
              `${protocol.port} ${kind}: the server died on ${JSON.stringify(outcome.counterexample?.[0]?.map((c) => c.toString('hex')))}`,
            )
        }
        log(`fuzz: ${protocol.port}: every split point (${protocol.split.bytes.length - 1})`)
        let splitFailures = 0
        for (let i = 1; i < protocol.split.bytes.length; i++) {
          const result = await exchange(
            port,
            [protocol.split.bytes.subarray(0, i), protocol.split.bytes.subarray(i)],
            Buffer.alloc(0),
            protocol.split.answered,
            5000,
          )
          connections++
          if (!result.probeAnswered) splitFailures++
        }
        const health = protocol.probe()
        const healthy = await exchange(port, [], health.bytes, health.answered, 10_000)
        expect(
          report,
          healthy.probeAnswered,
          `${protocol.port}: a fresh connection was not served after the fuzz`,
        )
        report.figures[protocol.port] =
          `probe answered ${answered}, closed by the server ${closed}; split points failing ${splitFailures}/${protocol.split.bytes.length - 1}`
        expect(
          report,
          splitFailures === 0,
          `${protocol.port}: ${splitFailures} split points of a valid exchange were not answered`,
        )
        if (!server.alive) break
      }
    } finally {
      clearInterval(sampler)
    }
    report.figures.connections = connections
    report.figures['left waiting for the rest of a frame'] = waiting
    report.figures['server rss start/peak'] = `${mib(baseRss)} / ${mib(peakRss)}`
    if (undocumented.size > 0) report.figures['undocumented codes'] = [...undocumented].join(', ')
    expect(report, server.alive, `the server died (exit ${server.exitCode ?? server.exitSignal})`)
    expect(
      report,
      undocumented.size === 0,
      `undocumented error codes: ${[...undocumented].join(', ')}`,
    )
    expect(
      report,
      peakRss <= baseRss + 256 * MiB,
      `server rss grew from ${mib(baseRss)} to ${mib(peakRss)}`,
    )
  },
}
