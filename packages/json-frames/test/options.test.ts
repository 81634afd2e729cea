// Unknown option keys are a TypeError (ERR_INVALID_ARG_VALUE) from core's validator, at every
// entry point that takes options: a misspelt limit must not silently fall back to the default.
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  attachMessages,
  createMessageStream,
  createMessageTransform,
  encodeFrame,
  encodeMessage,
  FrameDecoder,
  iterateMessages,
  MessageDecoder,
  MessageHandler,
} from '../src/index.ts'

const unknown = (key: string) =>
  expect.objectContaining({
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message: expect.stringContaining(`option ${key}.`),
  })
// A misspelling of maxFrameBytes, the mistake this guards against.
const typo = { maxFrameSize: 10 } as never

describe('unknown option keys', () => {
  it('are rejected by the decoders, the handler and the encoders', () => {
    expect(() => new FrameDecoder(typo)).toThrow(unknown('maxFrameSize'))
    expect(() => new FrameDecoder({ requireType: true } as never)).toThrow(unknown('requireType'))
    expect(() => new MessageDecoder(typo)).toThrow(unknown('maxFrameSize'))
    expect(() => new MessageDecoder({ copy: true } as never)).toThrow(unknown('copy'))
    expect(() => new MessageHandler(new PassThrough(), typo)).toThrow(unknown('maxFrameSize'))
    expect(() => encodeFrame(Buffer.from('x'), typo)).toThrow(unknown('maxFrameSize'))
    expect(() => encodeMessage({}, typo)).toThrow(unknown('maxFrameSize'))
  })

  it('are rejected by the adapters, which accept their own options and the decoder’s', () => {
    const source = new PassThrough()
    expect(() => iterateMessages(source, typo)).toThrow(unknown('maxFrameSize'))
    expect(() => createMessageTransform({ batch: true } as never)).toThrow(unknown('batch'))
    expect(() => createMessageStream(typo)).toThrow(unknown('maxFrameSize'))
    expect(() => attachMessages(source, { frame() {}, error() {} }, typo)).toThrow(
      unknown('maxFrameSize'),
    )

    iterateMessages(source, { batch: true, maxFrameBytes: 10, requireType: true })
    createMessageTransform({ readableHighWaterMark: 4, oversize: 'skip' })
    createMessageStream({ onRecoverableError() {}, maxFrameBytes: 10 })
    attachMessages(
      source,
      { frame() {}, error() {} },
      { maxPending: 2, maxFrameBytes: 10 },
    ).detach()
    source.destroy()
  })

  it('are not confused with the options a handler passes to its decoder', () => {
    const handler = new MessageHandler(new PassThrough(), {
      maxSendBytes: 100,
      maxFrameBytes: 10,
      requireType: true,
    })
    expect(handler.skipped).toBe(0)
    handler.detach()
  })
})
