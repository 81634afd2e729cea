/**
 * `@verb-tcp/core/validate`: the one option validator every verb-tcp package uses, so a bad option
 * throws the same way everywhere: a `TypeError` (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`)
 * or `RangeError` (`ERR_OUT_OF_RANGE`) carrying Node's own codes, never a `ProtocolError`
 * (that is for what a peer sent). For package authors; applications do not import it.
 *
 * @example
 * ```ts
 * import { knownKeys, ms, positiveInt } from '@verb-tcp/core/validate'
 *
 * function resolve(options: { maxRooms?: number; ttl?: number } = {}) {
 *   knownKeys(options, ['maxRooms', 'ttl'], 'rooms')
 *   return { maxRooms: positiveInt(options.maxRooms, 'maxRooms', 100), ttl: ms(options.ttl, 'ttl', 60_000) }
 * }
 * ```
 * @packageDocumentation
 */

/** Node timers cannot count past 2^31-1 ms (about 24.8 days); longer delays fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1

export type ArgErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE'

/** A `TypeError` or `RangeError` with Node's `code`, as `node:` APIs throw for bad arguments. */
export function argError(code: ArgErrorCode, message: string): TypeError | RangeError {
  const error = code === 'ERR_OUT_OF_RANGE' ? new RangeError(message) : new TypeError(message)
  Object.defineProperty(error, 'code', { value: code, enumerable: true, configurable: true })
  return error
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

function integer(value: unknown, name: string, min: number, max: number, what: string): number {
  if (typeof value !== 'number') {
    throw argError('ERR_INVALID_ARG_TYPE', `${name} must be ${what}, got ${show(value)}`)
  }
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw argError('ERR_OUT_OF_RANGE', `${name} must be ${what}, got ${show(value)}`)
  }
  return value
}

/** A positive safe integer; `undefined` gives `fallback`. */
export function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  return integer(value, name, 1, Number.MAX_SAFE_INTEGER, 'a positive integer')
}

/** A safe integer from `min` to `max`; `undefined` gives `fallback`. */
export function intInRange(
  value: unknown,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback
  return integer(value, name, min, max, `an integer from ${min} to ${max}`)
}

/**
 * A safe integer of at least `min` (1 unless given), or `Infinity` for no limit; `undefined`
 * gives `fallback`.
 */
export function limit(value: unknown, name: string, fallback: number, min = 1): number {
  if (value === Number.POSITIVE_INFINITY) return value
  if (value === undefined) return fallback
  const what = min === 1 ? 'a positive integer or Infinity' : `an integer >= ${min} or Infinity`
  return integer(value, name, min, Number.MAX_SAFE_INTEGER, what)
}

/** A finite number from `min` to `max`, fractions allowed; `undefined` gives `fallback`. */
export function number(
  value: unknown,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_VALUE,
): number {
  if (value === undefined) return fallback
  const what = max === Number.MAX_VALUE ? `a number >= ${min}` : `a number from ${min} to ${max}`
  if (typeof value !== 'number') {
    throw argError('ERR_INVALID_ARG_TYPE', `${name} must be ${what}, got ${show(value)}`)
  }
  if (!Number.isFinite(value) || value < min || value > max) {
    throw argError('ERR_OUT_OF_RANGE', `${name} must be ${what}, got ${show(value)}`)
  }
  return value
}

/** Milliseconds a Node timer can count: an integer from `min` to 2^31-1. */
export function ms(value: unknown, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  return integer(value, name, min, MAX_TIMER_MS, `an integer from ${min} to ${MAX_TIMER_MS} (ms)`)
}

export function oneOf<T extends string>(
  value: unknown,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback
  if (!allowed.includes(value as T)) {
    throw argError(
      'ERR_INVALID_ARG_VALUE',
      `${name} must be one of ${allowed.join(', ')}, got ${show(value)}`,
    )
  }
  return value as T
}

export function fn<T>(value: unknown, name: string, fallback: T): T {
  if (value === undefined) return fallback
  if (typeof value !== 'function') {
    throw argError('ERR_INVALID_ARG_TYPE', `${name} must be a function, got ${show(value)}`)
  }
  return value as T
}

export function bool(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') {
    throw argError('ERR_INVALID_ARG_TYPE', `${name} must be a boolean, got ${show(value)}`)
  }
  return value
}

export function string(value: unknown, name: string, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value.length === 0) {
    // Node's split: the wrong type is ERR_INVALID_ARG_TYPE, a string that is empty a bad value.
    const code = typeof value === 'string' ? 'ERR_INVALID_ARG_VALUE' : 'ERR_INVALID_ARG_TYPE'
    throw argError(code, `${name} must be a non-empty string, got ${show(value)}`)
  }
  return value
}

/** A non-null object (not an array); `undefined` gives `fallback`. */
export function object<T extends object | undefined>(value: unknown, name: string, fallback: T): T {
  if (value === undefined) return fallback
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw argError('ERR_INVALID_ARG_TYPE', `${name} must be an object, got ${show(value)}`)
  }
  return value as T
}

/**
 * The keys of an options interface, for `knownKeys`, from a record that names every one of them:
 * an option added to the interface but not here (or named here but not there) fails the typecheck.
 *
 * @example
 * ```ts
 * const KEYS = optionKeys<{ maxRooms?: number; ttl?: number }>({ maxRooms: true, ttl: true })
 * ```
 */
export function optionKeys<T extends object>(keys: Record<keyof T, true>): readonly string[] {
  return Object.keys(keys)
}

/**
 * The part of `options` that is not in `taken`: what a wrapper passes on to the component it
 * wraps once it has read its own options, so that component can reject what it does not know.
 */
export function withoutKeys<T extends object>(options: T, taken: readonly string[]): Partial<T> {
  // Not an object: passed on as it is, for the wrapped component to reject.
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return options
  const rest: Record<string, unknown> = {}
  for (const key of Object.keys(options)) {
    if (!taken.includes(key)) rest[key] = (options as Record<string, unknown>)[key]
  }
  return rest as Partial<T>
}

/**
 * Checks that `options` is `undefined` or an object whose keys are all in `known`: a misspelt
 * option is an error, not a silently ignored default.
 */
export function knownKeys(options: unknown, known: readonly string[], where: string): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw argError(
      'ERR_INVALID_ARG_TYPE',
      `${where} options must be an object, got ${show(options)}`,
    )
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw argError(
        'ERR_INVALID_ARG_VALUE',
        `Unknown ${where} option ${key}. Known options: ${known.join(', ')}`,
      )
    }
  }
}
