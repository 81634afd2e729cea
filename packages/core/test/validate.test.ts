import { describe, expect, it } from 'vitest'
import {
  argError,
  bool,
  fn,
  intInRange,
  knownKeys,
  limit,
  MAX_TIMER_MS,
  ms,
  number,
  object,
  oneOf,
  positiveInt,
  string,
} from '../src/validate.ts'

const coded = (name: string, code: string) => expect.objectContaining({ name, code })
const type = coded('TypeError', 'ERR_INVALID_ARG_TYPE')
const value = coded('TypeError', 'ERR_INVALID_ARG_VALUE')
const range = coded('RangeError', 'ERR_OUT_OF_RANGE')

describe('@verb-tcp/core/validate', () => {
  it('gives the fallback for undefined and the value when it is valid', () => {
    expect(positiveInt(undefined, 'n', 7)).toBe(7)
    expect(positiveInt(3, 'n', 7)).toBe(3)
    expect(intInRange(0, 'n', 1, 0, 5)).toBe(0)
    expect(limit(Number.POSITIVE_INFINITY, 'n', 1)).toBe(Number.POSITIVE_INFINITY)
    expect(limit(0, 'n', 1, 0)).toBe(0)
    expect(ms(MAX_TIMER_MS, 't', 0)).toBe(MAX_TIMER_MS)
    expect(number(1.5, 'f', 2, 1)).toBe(1.5)
    expect(oneOf('b', 'o', ['a', 'b'], 'a')).toBe('b')
    expect(bool(false, 'b', true)).toBe(false)
    expect(string('x', 's', 'y')).toBe('x')
    const f = () => {}
    expect(fn(f, 'f', undefined)).toBe(f)
    expect(object(undefined, 'o', undefined)).toBeUndefined()
  })

  it("throws Node's codes: wrong type, bad value, out of range", () => {
    expect(() => positiveInt('1', 'n', 1)).toThrow(type)
    expect(() => positiveInt(0, 'n', 1)).toThrow(range)
    expect(() => positiveInt(1.5, 'n', 1)).toThrow(range)
    expect(() => positiveInt(Number.NaN, 'n', 1)).toThrow(range)
    expect(() => intInRange(6, 'n', 1, 0, 5)).toThrow(range)
    expect(() => limit(0, 'n', 1)).toThrow(range)
    expect(() => ms(MAX_TIMER_MS + 1, 't', 0)).toThrow(range)
    expect(() => number(Number.POSITIVE_INFINITY, 'f', 2, 1)).toThrow(range)
    expect(() => number('2', 'f', 2, 1)).toThrow(type)
    expect(() => oneOf('c', 'o', ['a', 'b'], 'a')).toThrow(value)
    expect(() => bool(1, 'b', true)).toThrow(type)
    expect(() => string(1, 's', 'y')).toThrow(type)
    expect(() => string('', 's', 'y')).toThrow(value)
    expect(() => fn(1, 'f', undefined)).toThrow(type)
    expect(() => object([], 'o', undefined)).toThrow(type)
  })

  it('names the option and what it must be', () => {
    expect(() => ms(-1, 'idleTimeout', 0)).toThrow(
      `idleTimeout must be an integer from 0 to ${MAX_TIMER_MS} (ms), got -1`,
    )
  })

  it('refuses unknown keys, naming the known ones', () => {
    expect(() => knownKeys({ a: 1 }, ['a'], 'x')).not.toThrow()
    expect(() => knownKeys(undefined, ['a'], 'x')).not.toThrow()
    expect(() => knownKeys({ b: 1 }, ['a'], 'x')).toThrow(value)
    expect(() => knownKeys({ b: 1 }, ['a'], 'x')).toThrow(/Unknown x option b\. Known options: a/)
    expect(() => knownKeys(3, ['a'], 'x')).toThrow(type)
  })

  it('makes the error class from the code', () => {
    expect(argError('ERR_OUT_OF_RANGE', 'm')).toBeInstanceOf(RangeError)
    expect(argError('ERR_INVALID_ARG_VALUE', 'm')).toBeInstanceOf(TypeError)
    expect(argError('ERR_INVALID_ARG_TYPE', 'm')).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
  })
})
