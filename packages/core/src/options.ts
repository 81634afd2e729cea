import type { ServerOptions, TcpOptions } from './types.ts'
import { MAX_TIMER_MS } from './validate.ts'

type Check = (value: unknown) => boolean
const bool: Check = (v) => typeof v === 'boolean'
const fn: Check = (v) => typeof v === 'function'
const uint: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0
const ms: Check = (v) => uint(v) && (v as number) <= MAX_TIMER_MS
const posInt: Check = (v) => Number.isSafeInteger(v) && (v as number) > 0
const object: Check = (v) => typeof v === 'object' && v !== null
const port: Check = (v) => uint(v) && (v as number) <= 65535
const host: Check = (v) => typeof v === 'string' && v.length > 0

const TCP_KEYS: Record<keyof TcpOptions, [Check, string]> = {
  backlog: [uint, 'a non-negative integer'],
  exclusive: [bool, 'a boolean'],
  allowHalfOpen: [bool, 'a boolean'],
  pauseOnConnect: [bool, 'a boolean'],
  readableHighWaterMark: [posInt, 'a positive integer'],
  writableHighWaterMark: [posInt, 'a positive integer'],
  keepAlive: [bool, 'a boolean'],
  keepAliveInitialDelay: [ms, `an integer from 0 to ${MAX_TIMER_MS} (ms)`],
  noDelay: [bool, 'a boolean'],
  timeout: [ms, `an integer from 0 to ${MAX_TIMER_MS} (ms)`],
  tls: [object, 'an object of tls.createServer options'],
  onAdmit: [fn, 'a function'],
  onConnection: [fn, 'a function'],
  onError: [fn, 'a function'],
  onListening: [fn, 'a function'],
  onClose: [fn, 'a function'],
  onTimeout: [fn, 'a function'],
}

const TOP_KEYS: Record<Exclude<keyof ServerOptions, 'tcp'>, [Check, string]> = {
  port: [port, 'an integer from 0 to 65535'],
  host: [host, 'a non-empty string'],
}

function checkKeys(
  value: object,
  table: Record<string, [Check, string]>,
  where: string,
  extra: string[] = [],
): void {
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || extra.includes(key)) continue
    const rule = table[key]
    if (!rule) {
      const known = [...Object.keys(table), ...extra].join(', ')
      throw new TypeError(`Unknown option ${where}${key}. Known options: ${known}`)
    }
    if (!rule[0](v))
      throw new TypeError(`Option ${where}${key} must be ${rule[1]}, got ${String(v)}`)
  }
}

/** Throws a `TypeError` naming the first unknown or ill-typed key. */
export function validateOptions(options: unknown): asserts options is ServerOptions {
  if (!object(options)) throw new TypeError('withOptions expects an options object')
  checkKeys(options as object, TOP_KEYS, '', ['tcp'])
  const tcp = (options as ServerOptions).tcp
  if (tcp === undefined) return
  if (!object(tcp)) throw new TypeError('Option tcp must be an object')
  checkKeys(tcp, TCP_KEYS, 'tcp.')
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!object(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Plain objects merge key by key, at any depth; anything else (Buffers, arrays, functions) is replaced. */
export function mergeOptions<T extends object>(base: T, patch: T): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) }
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue
    const prev = out[key]
    out[key] = isPlainObject(prev) && isPlainObject(value) ? mergeOptions(prev, value) : value
  }
  return out as T
}
