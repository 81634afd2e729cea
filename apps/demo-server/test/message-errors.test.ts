import { readFileSync } from 'node:fs'
import { JsonFramesErrorCode } from '@verb-tcp/json-frames'
import { RoomsErrorCode } from '@verb-tcp/rooms'
import { expect, it } from 'vitest'
import { errorTable, MESSAGE_ERRORS, MessageErrorCode } from '../src/message-errors.ts'

const README = new URL('../README.md', import.meta.url)

it("the README's table of the message port's error codes is the one the server's list renders", () => {
  const readme = readFileSync(README, 'utf8')
  const start = readme.indexOf('| Code | When |')
  expect(start).toBeGreaterThan(0)
  const end = readme.indexOf('\n\n', start)
  expect(readme.slice(start, end)).toBe(errorTable())
})

it('lists every code once, and every code the rooms package and json-frames can answer with', () => {
  const listed = MESSAGE_ERRORS.flatMap((row) => row.codes)
  expect(new Set(listed).size).toBe(listed.length)
  expect(listed.sort()).toEqual(Object.values(MessageErrorCode).sort())
  // ERR_JOIN_REFUSED comes from an `authorize` hook, which the demo does not have.
  for (const code of Object.values(RoomsErrorCode))
    if (code !== RoomsErrorCode.JOIN_REFUSED) expect(listed).toContain(code)
  for (const code of [
    JsonFramesErrorCode.INVALID_JSON,
    JsonFramesErrorCode.INVALID_UTF8,
    JsonFramesErrorCode.BAD_LENGTH,
    JsonFramesErrorCode.FRAME_TOO_LARGE,
    JsonFramesErrorCode.TRUNCATED_FRAME,
  ])
    expect(listed).toContain(code)
})
