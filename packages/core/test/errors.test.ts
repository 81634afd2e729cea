import { describe, expect, it } from 'vitest'
import { ErrorCode, isProtocolError, ProtocolError, VerbTcpError } from '../src/errors.ts'

describe('ProtocolError', () => {
  it('carries a stable code, its fields and the cause', () => {
    const cause = new Error('root')
    const err = new ProtocolError('ERR_FRAME_TOO_LARGE', 'too big', {
      cause,
      limit: 10,
      declaredLength: 11,
      offset: 3,
      streamId: 5,
      recoverable: false,
    })
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('ProtocolError')
    expect(err.code).toBe('ERR_FRAME_TOO_LARGE')
    expect(err.cause).toBe(cause)
    expect([err.limit, err.declaredLength, err.offset, err.streamId]).toEqual([10, 11, 3, 5])
    expect(err.recoverable).toBe(false)
  })

  it('is not recoverable and has no cause unless told', () => {
    const err = new ProtocolError('ERR_X', 'x')
    expect(err.recoverable).toBe(false)
    expect('cause' in err).toBe(false)
  })

  it('is recognised by isProtocolError even when made by another copy of the class', () => {
    class OtherCopy extends Error {
      override name = 'ProtocolError'
      code = ErrorCode.PROTOCOL_UNSUPPORTED
    }
    expect(isProtocolError(new ProtocolError('ERR_X', 'x'))).toBe(true)
    expect(isProtocolError(new OtherCopy())).toBe(true)
    expect(isProtocolError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(false)
    expect(isProtocolError({ name: 'ProtocolError', code: 'ERR_X' })).toBe(false)
  })
})

describe('VerbTcpError', () => {
  it('carries a code, a limit and the cause, and is not a ProtocolError', () => {
    const cause = new Error('root')
    const err = new VerbTcpError(ErrorCode.SERVER_STATE, 'already running', { cause, limit: 2 })
    expect(err).toBeInstanceOf(Error)
    expect(err).toMatchObject({ name: 'VerbTcpError', code: 'ERR_SERVER_STATE', limit: 2 })
    expect(err.cause).toBe(cause)
    expect(isProtocolError(err)).toBe(false)
  })

  it('is the base of ProtocolError, so every verb-tcp error has a code', () => {
    expect(new ProtocolError('ERR_X', 'x')).toBeInstanceOf(VerbTcpError)
  })
})
