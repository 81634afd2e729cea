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
      expect(isProtocolError(thrown) && thrown.code).toBe('ERR_PROTOCOL_UNSUPPORTED')
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
    [{ prot: 80 }, /Unknown option prot/],
    [{ tcp: { keepalive: true } }, /Unknown option tcp\.keepalive/],
    [{ tcp: { onconnection: () => {} } }, /Unknown option tcp\.onconnection/],
    [{ hostname: 'x' }, /Unknown option hostname/],
  ])('throws a TypeError naming an unknown key: %j', (options, message) => {
    expect(() => createServer().withOptions(options as never)).toThrow(TypeError)
    expect(() => createServer().withOptions(options as never)).toThrow(message)
  })

  it.each([
    [{ port: 70000 }, /port/],
    [{ port: -1 }, /port/],
    [{ port: '80' }, /port/],
    [{ host: '' }, /host/],
    [{ tcp: { backlog: 1.5 } }, /tcp\.backlog/],
    [{ tcp: { timeout: -1 } }, /tcp\.timeout/],
    [{ tcp: { timeout: 2 ** 31 } }, /tcp\.timeout/],
    [{ tcp: { readableHighWaterMark: 0 } }, /tcp\.readableHighWaterMark/],
    [{ tcp: { noDelay: 'yes' } }, /tcp\.noDelay/],
    [{ tcp: { onConnection: 'fn' } }, /tcp\.onConnection/],
    [{ tcp: 5 }, /tcp/],
  ])('throws a TypeError for an ill-typed value: %j', (options, message) => {
    expect(() => createServer().withOptions(options as never)).toThrow(message)
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
    expect(() => app.onConnection('x' as never)).toThrow(TypeError)
  })
})
