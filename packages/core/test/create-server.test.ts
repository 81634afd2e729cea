import { describe, expect, it } from 'vitest'
import { ServerProtocol } from '../src/constants.ts'
import { isProtocolError } from '../src/errors.ts'
import { createServer, TcpServer } from '../src/server.ts'

describe('createServer', () => {
  it('makes a TCP server by default and for ServerProtocol.TCP, a TLS one for TLS', () => {
    expect(createServer().protocol).toBe('tcp')
    expect(createServer(ServerProtocol.TCP)).toBeInstanceOf(TcpServer)
    expect(createServer(ServerProtocol.TLS).protocol).toBe('tls')
  })

  const others = Object.values(ServerProtocol).filter((p) => p !== 'tcp' && p !== 'tls')
  it.each(others)(
    'rejects %s with ERR_PROTOCOL_UNSUPPORTED naming the package that serves TCP',
    (p) => {
      let thrown: unknown
      try {
        createServer(p)
      } catch (err) {
        thrown = err
      }
      expect(thrown).toMatchObject({ name: 'VerbTcpError', code: 'ERR_PROTOCOL_UNSUPPORTED' })
      expect(isProtocolError(thrown)).toBe(false)
      expect((thrown as Error).message).toContain('@verb-tcp/core')
      expect((thrown as Error).message).toContain(p)
    },
  )

  it('rejects a protocol name verb does not know', () => {
    expect(() => createServer('gopher')).toThrow(/ERR_PROTOCOL_UNSUPPORTED|serves only/)
  })
})

describe('withOptions', () => {
  it('returns the app so calls chain, and merges instead of replacing', () => {
    const onConnection = () => {}
    const app = createServer()
    expect(app.withOptions({ port: 1234 })).toBe(app)
    app
      .withOptions({ host: '::1', tcp: { backlog: 10, onConnection } })
      .withOptions({ tcp: { noDelay: false } })
    expect(app.options).toEqual({
      port: 1234,
      host: '::1',
      tcp: { backlog: 10, noDelay: false, onConnection },
    })
  })

  it('deep-merges nested plain objects such as tcp.tls but replaces buffers', () => {
    const app = createServer(ServerProtocol.TLS)
      .withOptions({ tcp: { tls: { key: Buffer.from('a'), requestCert: true } } })
      .withOptions({ tcp: { tls: { key: Buffer.from('b') } } })
    expect(app.options.tcp?.tls).toEqual({ key: Buffer.from('b'), requestCert: true })
  })

  it('ignores keys set to undefined', () => {
    const app = createServer()
      .withOptions({ port: 5 })
      .withOptions({ port: undefined } as never)
    expect(app.options.port).toBe(5)
  })

  it.each([
    [{ prot: 80 }, /Unknown server option prot/],
    [{ tcp: { keepalive: true } }, /Unknown tcp option keepalive/],
    [{ tcp: { onconnection: () => {} } }, /Unknown tcp option onconnection/],
    [{ hostname: 'x' }, /Unknown server option hostname/],
  ])('throws ERR_INVALID_ARG_VALUE naming an unknown key: %j', (options, message) => {
    expect(() => createServer().withOptions(options as never)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }),
    )
    expect(() => createServer().withOptions(options as never)).toThrow(message)
  })

  it.each([
    [{ port: 70000 }, /port/, 'ERR_OUT_OF_RANGE'],
    [{ port: -1 }, /port/, 'ERR_OUT_OF_RANGE'],
    [{ port: '80' }, /port/, 'ERR_INVALID_ARG_TYPE'],
    [{ host: '' }, /host/, 'ERR_INVALID_ARG_VALUE'],
    [{ tcp: { backlog: 1.5 } }, /tcp\.backlog/, 'ERR_OUT_OF_RANGE'],
    [{ tcp: { timeout: -1 } }, /tcp\.timeout/, 'ERR_OUT_OF_RANGE'],
    [{ tcp: { timeout: 2 ** 31 } }, /tcp\.timeout/, 'ERR_OUT_OF_RANGE'],
    [{ tcp: { readableHighWaterMark: 0 } }, /tcp\.readableHighWaterMark/, 'ERR_OUT_OF_RANGE'],
    [{ tcp: { noDelay: 'yes' } }, /tcp\.noDelay/, 'ERR_INVALID_ARG_TYPE'],
    [{ tcp: { onConnection: 'fn' } }, /tcp\.onConnection/, 'ERR_INVALID_ARG_TYPE'],
    [{ tcp: { tls: 1 } }, /tcp\.tls/, 'ERR_INVALID_ARG_TYPE'],
    [{ tcp: 5 }, /tcp/, 'ERR_INVALID_ARG_TYPE'],
    [undefined, /options object/, 'ERR_INVALID_ARG_TYPE'],
  ])('throws a coded error for an ill-typed value: %j', (options, message, code) => {
    expect(() => createServer().withOptions(options as never)).toThrow(
      expect.objectContaining({ code, message: expect.stringMatching(message) }),
    )
  })

  it('adds handlers with chainable shortcuts and rejects non-functions', () => {
    const app = createServer()
    expect(
      app
        .onConnection(() => {})
        .onError(() => {})
        .onListening(() => {})
        .onClose(() => {}),
    ).toBe(app)
    expect(() => app.onConnection('x' as never)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
    )
  })
})
