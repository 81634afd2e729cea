// Every case can fail: for each case, a server that breaks exactly the rule it tests makes it
// fail (and the failure names the rule), while the same server with nothing broken passes the
// whole suite. A case no broken server can fail would not be a case.
import { describe, expect, it } from 'vitest'
import { listCases, run } from '../src/index.ts'
import type { Protocol } from '../src/types.ts'
import { type BinaryBreak, startBinaryServer } from './servers/binary-server.ts'
import { type FileBreak, startFileServer } from './servers/file-server.ts'
import { type JsonBreak, startJsonServer } from './servers/json-server.ts'
import type { Listening } from './servers/listen.ts'
import { type MuxBreak, startMuxServer } from './servers/mux-server.ts'

/** Which broken server fails each case. */
const JSON_BREAKS: Record<string, JsonBreak> = {
  '1.1': 'ping-without-id',
  '1.2': 'chunk-framing',
  '1.3': 'char-length',
  '1.4': 'per-chunk-decode',
  '1.5': 'first-frame-only',
  '1.6': 'payload-until-lf',
  '1.7': 'chunk-framing',
  '2.1': 'silent-invalid-json',
  '2.2': 'limit-off-by-one',
  '2.3': 'no-limit',
  '2.4': 'no-limit',
  '2.5': 'parseint-length',
  '2.6': 'parseint-length',
  '2.7': 'parseint-length',
  '2.8': 'parseint-length',
  '2.9': 'parseint-length',
  '2.10': 'parseint-length',
  '2.11': 'parseint-length',
  '2.12': 'parseint-length',
  '2.13': 'parseint-length',
  '2.14': 'parseint-length',
  '2.15': 'parseint-length',
  '2.16': 'parseint-length',
  '2.17': 'parseint-length',
  '2.18': 'parseint-length',
  '2.19': 'parseint-length',
  '2.20': 'skip-blank-lines',
  '3.1': 'silent-invalid-json',
  '3.2': 'silent-invalid-json',
  '3.3': 'strip-bom',
  '3.4': 'lenient-utf8',
  '3.5': 'lenient-utf8',
  '3.6': 'lenient-utf8',
  '3.7': 'lenient-utf8',
  '3.8': 'no-type-check',
  '3.9': 'no-type-check',
  '3.10': 'no-type-check',
  '3.11': 'no-type-check',
  '3.12': 'no-type-check',
  '3.13': 'error-without-id',
  '4.1': 'no-backpressure',
  '4.2': 'global-pause',
  '4.3': 'half-open',
}

const BINARY_BREAKS: Record<string, BinaryBreak> = {
  '1.1': 'pong-payload',
  '1.2': 'heartbeat-payload-kept',
  '1.3': 'flags-dropped',
  '1.4': 'chunk-framing',
  '1.5': 'chunk-framing',
  '1.6': 'drop-empty',
  '1.7': 'first-frame-only',
  '1.8': 'chunk-framing',
  '2.1': 'no-limit',
  '2.2': 'signed-length',
  '2.3': 'no-limit',
  '2.4': 'limit-off-by-one',
  '2.5': 'no-limit',
  '2.6': 'no-limit',
  '3.1': 'strict-flags',
  '3.2': 'unknown-type-payload-kept',
  '3.3': 'unknown-type-closes',
  '3.4': 'answers-pong',
  '4.1': 'no-backpressure',
  '4.2': 'half-open',
}

const MUX_BREAKS: Record<string, MuxBreak> = {
  '1.1': 'no-hello',
  '1.2': 'drop-server-close',
  '1.3': 'chunk-framing',
  '1.4': 'first-frame-only',
  '1.5': 'unknown-control-fatal',
  '2.1': 'lenient-ids',
  '2.2': 'lenient-ids',
  '2.3': 'lenient-ids',
  '2.4': 'lenient-ids',
  '2.5': 'lenient-ids',
  '3.1': 'ignore-stream-window',
  '3.2': 'ignore-session-window',
  '3.3': 'drop-compact',
  '3.4': 'understate-credit',
  '4.1': 'understate-max-streams',
  '4.2': 'accept-any-type',
  '4.3': 'oversize-data-ignored',
  '4.4': 'oversize-control-ignored',
  '5.1': 'reset-ignored',
  '5.2': 'data-after-close-ignored',
  '6.1': 'close-is-full-close',
  '6.2': 'drop-server-close',
  '6.3': 'refuse-after-close',
  '7.1': 'pong-wrong-id',
  '7.2': 'pong-wrong-id',
  '7.3': 'pong-fatal',
  '8.1': 'goaway-kills-streams',
  '8.2': 'bad-control-ignored',
  '8.3': 'second-hello-ignored',
  '8.4': 'bad-control-ignored',
  '9.1': 'no-legacy',
  '9.2': 'legacy-parity-checked',
  '9.3': 'legacy-gets-pings',
  '9.4': 'legacy-frame-limit',
}

const FILE_BREAKS: Record<string, FileBreak> = {
  '1.1': 'no-name-rules',
  '1.2': 'no-name-rules',
  '1.3': 'no-name-rules',
  '1.4': 'no-name-rules',
  '1.5': 'no-name-rules',
  '1.6': 'no-name-rules',
  '1.7': 'no-name-rules',
  '1.8': 'no-name-rules',
  '1.9': 'no-name-rules',
  '1.10': 'no-name-rules',
  '1.11': 'no-name-rules',
  '1.12': 'no-name-rules',
  '1.13': 'no-name-rules',
  '1.14': 'no-name-rules',
  '1.15': 'no-name-rules',
  '1.16': 'no-name-rules',
  '1.17': 'no-name-rules',
  '1.18': 'no-name-rules',
  '1.19': 'no-name-rules',
  '1.20': 'no-name-rules',
  '1.21': 'ascii-only-names',
  '2.1': 'complete-without-sha256',
  '2.2': 'zero-byte-refused',
  '2.3': 'no-digest-check',
  '2.4': 'no-digest-check',
  '2.5': 'no-offset-check',
  '2.6': 'no-offset-check',
  '2.7': 'no-offset-check',
  '2.8': 'size-not-enforced',
  '2.9': 'end-publishes-partial',
  '2.10': 'end-idempotent-complete',
  '2.11': 'unknown-chunk-ignored',
  '2.12': 'lenient-base64',
  '2.13': 'no-field-checks',
  '2.14': 'no-field-checks',
  '2.15': 'no-size-limit',
  '2.16': 'no-quota',
  '2.17': 'cancel-keeps-transfer',
  '2.18': 'rename-duplicates',
  '2.19': 'rename-duplicates',
  '2.20': 'no-resume',
}

/** Breaks whose cases flood the server or send 8 MiB frames. */
const HEAVY = new Set<string>(['no-backpressure', 'global-pause', 'limit-off-by-one'])

// Short waits against the broken servers: on loopback every answer is there in milliseconds, and
// a broken server's missing close or answer costs the case one `timeout`. The servers with
// nothing broken get long ones: a passing case never waits them out, and a busy machine must not
// fail it.
const TIMEOUT = 1000

function suite<B extends string>(
  protocol: Protocol,
  breaks: Record<string, B>,
  start: (breaks: B[]) => Promise<Listening>,
) {
  describe(`${protocol}: every case has a broken server that fails it`, () => {
    const cases = listCases(protocol)

    it('maps every case to a broken server', () => {
      expect(
        cases.map((c) => c.id.slice(protocol.length + 1)).filter((id) => !(id in breaks)),
      ).toEqual([])
    })

    it('passes everything against the same server with nothing broken', async () => {
      const server = await start([])
      try {
        const report = await run({
          protocol,
          port: server.port,
          timeout: 5000,
          muxUpgrade: 'none',
        })
        expect(
          report.results.filter((r) => r.status !== 'pass').map((r) => `${r.id}: ${r.reason}`),
        ).toEqual([])
      } finally {
        await server.close()
      }
    })

    const byBreak = new Map<B, string[]>()
    for (const [id, b] of Object.entries(breaks))
      byBreak.set(b, [...(byBreak.get(b) ?? []), `${protocol}/${id}`])
    for (const [b, ids] of byBreak) {
      // Floods and 8 MiB frames run alone: they hold the event loop, and cases that cut their
      // bytes into separate reads need the pieces to arrive apart.
      ;(HEAVY.has(b) ? it : it.concurrent)(`${b} fails ${ids.join(', ')}`, async ({ expect }) => {
        const server = await start([b])
        try {
          const report = await run({
            protocol,
            port: server.port,
            timeout: TIMEOUT,
            only: ids,
            muxUpgrade: 'none',
          })
          expect(report.results.map((r) => r.id)).toEqual(ids)
          for (const r of report.results) {
            expect(r.status, `${r.id} against a server with ${b}`).toBe('fail')
            expect(r.reason).toMatch(/^sent .+; expected .+; got .+/)
          }
        } finally {
          await server.close()
        }
      })
    }
  })
}

suite('json-frames', JSON_BREAKS, startJsonServer)
suite('binary-frames', BINARY_BREAKS, startBinaryServer)
suite('mux', MUX_BREAKS, startMuxServer)
suite('file-transfer', FILE_BREAKS, startFileServer)
