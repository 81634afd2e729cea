import type { ServerOptions, TcpOptions } from './types.ts'
import {
  argError,
  bool,
  fn,
  intInRange,
  knownKeys,
  ms,
  object,
  positiveInt,
  string,
} from './validate.ts'

type Check = (value: unknown, name: string) => unknown
const uint: Check = (v, name) => intInRange(v, name, 0, 0, Number.MAX_SAFE_INTEGER)

const TCP_KEYS: Record<keyof TcpOptions, Check> = {
  backlog: uint,
  exclusive: (v, name) => bool(v, name, false),
  allowHalfOpen: (v, name) => bool(v, name, false),
  pauseOnConnect: (v, name) => bool(v, name, false),
  readableHighWaterMark: (v, name) => positiveInt(v, name, 1),
  writableHighWaterMark: (v, name) => positiveInt(v, name, 1),
  keepAlive: (v, name) => bool(v, name, true),
  keepAliveInitialDelay: (v, name) => ms(v, name, 0),
  noDelay: (v, name) => bool(v, name, true),
  timeout: (v, name) => ms(v, name, 0),
  tls: (v, name) => object(v, name, undefined),
  onAdmit: (v, name) => fn(v, name, undefined),
  onConnection: (v, name) => fn(v, name, undefined),
  onError: (v, name) => fn(v, name, undefined),
  onListening: (v, name) => fn(v, name, undefined),
  onClose: (v, name) => fn(v, name, undefined),
  onTimeout: (v, name) => fn(v, name, undefined),
}

const TOP_KEYS: Record<keyof ServerOptions, Check> = {
  port: (v, name) => intInRange(v, name, 0, 0, 65535),
  host: (v, name) => string(v, name, ''),
  tcp: (v, name) => object(v, name, undefined),
}

function checkKeys(value: object, table: Record<string, Check>, where: string, prefix = ''): void {
  knownKeys(value, Object.keys(table), where)
  for (const [key, v] of Object.entries(value)) table[key]?.(v, `${prefix}${key}`)
}

/**
 * Throws Node-style `TypeError`/`RangeError`s (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`,
 * `ERR_OUT_OF_RANGE`) naming the first unknown or ill-typed key.
 */
export function validateOptions(options: unknown): asserts options is ServerOptions {
  if (options === undefined) {
    throw argError('ERR_INVALID_ARG_TYPE', 'withOptions expects an options object, got undefined')
  }
  checkKeys(options as object, TOP_KEYS, 'server')
  const tcp = (options as ServerOptions).tcp
  if (tcp !== undefined) checkKeys(tcp, TCP_KEYS, 'tcp', 'tcp.')
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
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
