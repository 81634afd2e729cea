import { CASES } from './cases/index.ts'
import { CaseFailure, CaseSkipped } from './errors.ts'
import { detectMuxUpgrade } from './mux-wire.ts'
import { Peer } from './peer.ts'
import type {
  Case,
  CaseContext,
  CaseInfo,
  CaseResult,
  Protocol,
  RunOptions,
  RunReport,
} from './types.ts'

/** The protocols, in the order the suite lists them. */
export const PROTOCOLS: readonly Protocol[] = [
  'json-frames',
  'binary-frames',
  'mux',
  'file-transfer',
]

const REPO = 'https://github.com/verb-tcp/verb-tcp/tree/main'

/** `json-frames README, Wire format` → a link to that heading. */
function reference(section: string): string {
  const m = /^([\w-]+) README, (.+)$/.exec(section)
  if (!m) return section
  const [, pkg, heading] = m as unknown as [string, string, string]
  const dir = pkg === 'demo-server' ? 'apps/demo-server' : `packages/${pkg}`
  const anchor = heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-')
  return `${REPO}/${dir}#${anchor}`
}

function info(protocol: Protocol, c: Case): CaseInfo {
  return {
    id: c.id,
    protocol,
    title: c.title,
    section: c.section,
    reference: reference(c.section),
    expect: c.expect,
  }
}

/** `*` any run of characters, `?` one; anything else literal. */
function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`)
}

/** True when `id` matches one of the globs (a glob without `/` matches after the protocol too). */
export function matches(id: string, only: string | readonly string[] | undefined): boolean {
  if (only === undefined) return true
  const globs = typeof only === 'string' ? [only] : only
  if (globs.length === 0) return true
  const local = id.slice(id.indexOf('/') + 1)
  return globs.some((g) => {
    const re = globToRegExp(g)
    return re.test(id) || (!g.includes('/') && re.test(local))
  })
}

function protocolOf(protocol: unknown): Protocol {
  if (typeof protocol !== 'string' || !PROTOCOLS.includes(protocol as Protocol)) {
    const error = new TypeError(
      `The "protocol" option must be one of ${PROTOCOLS.join(', ')}. Received ${String(protocol)}`,
    ) as TypeError & { code: string }
    error.code = 'ERR_INVALID_ARG_VALUE'
    throw error
  }
  return protocol as Protocol
}

/** The cases of `protocol` (those matching `only`, if given), without running anything. */
export function listCases(protocol: Protocol, only?: string | readonly string[]): CaseInfo[] {
  return CASES[protocolOf(protocol)]
    .filter((c) => matches(c.id, only))
    .map((c) => info(protocol, c))
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    const error = new RangeError(
      `The "${name}" option must be a positive integer. Received ${String(value)}`,
    ) as RangeError & { code: string }
    error.code = 'ERR_OUT_OF_RANGE'
    throw error
  }
  return value
}

/**
 * Runs the selected cases of one protocol against a server and resolves with the report; a
 * failing case never rejects. Independent cases run `concurrency` at a time, each on
 * connections of its own; the exclusive ones (floods, maximum-size frames) run alone after them.
 */
export async function run(options: RunOptions): Promise<RunReport> {
  const protocol = protocolOf(options.protocol)
  const host = options.host ?? '127.0.0.1'
  const port = options.port
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    const error = new RangeError(
      `The "port" option must be an integer from 1 to 65535. Received ${String(port)}`,
    ) as RangeError & { code: string }
    error.code = 'ERR_OUT_OF_RANGE'
    throw error
  }
  const timeout = positive('timeout', options.timeout, 2000)
  const maxFrameBytes = positive('maxFrameBytes', options.maxFrameBytes, 8 * 1024 * 1024)
  // mux cases run one at a time by default: a server may refuse streams while it is busy
  // (REFUSED_STREAM is always allowed), and other cases' load would make that happen at random.
  const concurrency = positive('concurrency', options.concurrency, protocol === 'mux' ? 1 : 8)
  const started = performance.now()
  const selected = CASES[protocol].filter((c) => matches(c.id, options.only))

  // A server that cannot be reached is the caller's problem, not 138 failed cases.
  if (selected.length > 0) (await Peer.open(host, port, timeout)).destroy()

  let muxUpgrade: Uint8Array = new Uint8Array(0)
  if (protocol === 'mux' && selected.length > 0) {
    const asked = options.muxUpgrade ?? 'auto'
    if (asked === 'auto') muxUpgrade = await detectMuxUpgrade(host, port, timeout)
    else if (asked !== 'none') muxUpgrade = asked
  }

  const results: CaseResult[] = []
  const runOne = async (c: Case): Promise<void> => {
    if (options.signal?.aborted) return
    const peers: Peer[] = []
    const context: CaseContext = {
      host,
      port,
      timeout,
      maxFrameBytes,
      muxUpgrade,
      connect: async () => {
        const peer = await Peer.open(host, port, timeout)
        peers.push(peer)
        return peer
      },
      skip: (reason) => {
        throw new CaseSkipped(reason)
      },
    }
    const t0 = performance.now()
    let status: CaseResult['status'] = 'pass'
    let reason: string | undefined
    // A case's own deadline: every expectation inside waits `timeout` at most, but a case has
    // several; past this, it fails rather than hang the run.
    const limit = timeout * 10 + 5000
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        c.run(context),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`the case did not finish within ${limit} ms`)),
            limit,
          )
        }),
      ])
    } catch (error) {
      if (error instanceof CaseSkipped) {
        status = 'skip'
        reason = error.message
      } else {
        status = 'fail'
        reason =
          error instanceof CaseFailure
            ? error.message
            : `error: ${(error as Error)?.message ?? String(error)}`
      }
    } finally {
      clearTimeout(timer)
      for (const peer of peers) peer.destroy()
    }
    const result: CaseResult = {
      ...info(protocol, c),
      status,
      ...(reason !== undefined && { reason }),
      durationMs: Math.round(performance.now() - t0),
    }
    results.push(result)
    options.onResult?.(result)
  }

  const shared = selected.filter((c) => !c.exclusive)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, shared.length) }, async () => {
      while (next < shared.length) await runOne(shared[next++] as Case)
    }),
  )
  for (const c of selected.filter((c) => c.exclusive)) await runOne(c)

  const order = new Map(selected.map((c, i) => [c.id, i]))
  results.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0))
  const count = (s: CaseResult['status']) => results.filter((r) => r.status === s).length
  const failed = count('fail')
  return {
    protocol,
    host,
    port,
    results,
    passed: count('pass'),
    failed,
    skipped: count('skip'),
    durationMs: Math.round(performance.now() - started),
    ok: failed === 0,
  }
}
