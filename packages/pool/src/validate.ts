import { MAX_TIMER_MS } from './constants.ts'

/** A positive safe integer, or `undefined` for the default. */
export function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`)
  }
  return value as number
}

/** A positive safe integer or `Infinity`. */
export function limit(value: unknown, name: string, fallback: number): number {
  if (value === Number.POSITIVE_INFINITY) return value
  return positiveInt(value, name, fallback)
}

/** Ms that a Node timer can count: an integer from `min` to 2^31-1. */
export function ms(value: unknown, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > MAX_TIMER_MS) {
    throw new RangeError(
      `${name} must be an integer from ${min} to ${MAX_TIMER_MS} (ms), got ${String(value)}`,
    )
  }
  return value as number
}

export function oneOf<T extends string>(
  value: unknown,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback
  if (!allowed.includes(value as T)) {
    throw new TypeError(`${name} must be one of ${allowed.join(', ')}, got ${String(value)}`)
  }
  return value as T
}

export function fn<T>(value: unknown, name: string, fallback: T): T {
  if (value === undefined) return fallback
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function`)
  return value as T
}

export function bool(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean`)
  return value
}

/** Throws a `TypeError` naming the first key that is not in `known`. */
export function knownKeys(options: unknown, known: readonly string[], where: string): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where} options must be an object`)
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`Unknown ${where} option ${key}. Known options: ${known.join(', ')}`)
    }
  }
}
