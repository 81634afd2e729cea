import { availableParallelism } from 'node:os'
import { describe, expect, it } from 'vitest'
import { envName, OPTIONS, parseCliArgs, parseReloadArgs, UsageError, usage } from '../src/args.ts'

describe('parseCliArgs', () => {
  it('has sane defaults: loopback, ports 8080-8082 and 9090, one process, level info', () => {
    expect(parseCliArgs([])).toMatchObject({
      help: false,
      host: '127.0.0.1',
      port: 8080,
      messagePort: 8081,
      binaryPort: 8082,
      httpPort: 9090,
      workers: 1,
      gracePeriod: 30000,
      logLevel: 'info',
      redis: undefined,
    })
  })

  it('reads flags in both spellings; the last of a repeated flag wins', () => {
    expect(parseCliArgs(['--host', '0.0.0.0', '--port', '0'])).toMatchObject({
      host: '0.0.0.0',
      port: 0,
    })
    expect(parseCliArgs(['--host=::1', '--message-port=65535'])).toMatchObject({
      host: '::1',
      messagePort: 65535,
    })
    expect(parseCliArgs(['--port', '8080', '--port', '9000'])).toMatchObject({ port: 9000 })
  })

  it('reads every option from its environment variable; a flag beats it; empty means unset', () => {
    expect(envName('grace-period')).toBe('VERB_TCP_GRACE_PERIOD')
    expect(
      parseCliArgs([], { VERB_TCP_GRACE_PERIOD: '500', VERB_TCP_LOG_LEVEL: 'debug' }),
    ).toMatchObject({
      gracePeriod: 500,
      logLevel: 'debug',
    })
    expect(parseCliArgs(['--grace-period', '7'], { VERB_TCP_GRACE_PERIOD: '500' })).toMatchObject({
      gracePeriod: 7,
    })
    expect(parseCliArgs([], { VERB_TCP_PORT: '' })).toMatchObject({ port: 8080 })
    expect(parseCliArgs([], { VERB_TCP_REDIS: 'redis://127.0.0.1:6379' })).toMatchObject({
      redis: 'redis://127.0.0.1:6379',
    })
  })

  it('reads --help, -h, --version and -v', () => {
    expect(parseCliArgs(['--help'])).toEqual({ help: true })
    expect(parseCliArgs(['-h', '--port', 'abc'])).toEqual({ help: true })
    expect(parseCliArgs(['-v'])).toEqual({ help: false, version: true })
  })

  it.each([
    [['--port', 'abc'], '--port must be an integer from 0 to 65535, got "abc"'],
    [['--port', '65536'], 'got "65536"'],
    [['--port', '1.5'], 'got "1.5"'],
    [['--port=-1'], 'got "-1"'],
    [['--port'], "Option '--port <value>' argument missing"],
    [['--host', ' '], '--host must not be empty'],
    [['--workers', '0'], '--workers must be an integer from 1'],
    [['--log-level', 'loud'], '--log-level must be one of trace, debug, info'],
    [['--slow-reader', 'drop'], '--slow-reader must be one of close, skip'],
    [['--verbose'], "Unknown option '--verbose'"],
    [['8080'], "Unexpected argument '8080'"],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError)
    expect(() => parseCliArgs(argv)).toThrow(message)
  })

  it('names the variable when a bad value came from the environment', () => {
    expect(() => parseCliArgs([], { VERB_TCP_WORKERS: 'many' })).toThrow(
      'VERB_TCP_WORKERS must be an integer',
    )
  })

  it('lists every option and its variable in the usage', () => {
    const text = usage()
    for (const option of OPTIONS) expect(text).toContain(`--${option.flag} <${option.arg}>`)
    for (const option of OPTIONS) expect(text).toContain(envName(option.flag))
  })

  it('--workers auto is one per core; --rooms is shared or per-worker', () => {
    expect(parseCliArgs(['--workers', 'auto'])).toMatchObject({
      workers: availableParallelism(),
      rooms: 'shared',
    })
    expect(parseCliArgs(['--workers', '2', '--rooms', 'per-worker'])).toMatchObject({
      workers: 2,
      rooms: 'per-worker',
    })
    expect(() => parseCliArgs(['--rooms', 'global'])).toThrow(
      '--rooms must be one of shared, per-worker',
    )
  })

  it('--tls-cert and --tls-key go together', () => {
    expect(parseCliArgs(['--tls-cert', 'c.pem', '--tls-key', 'k.pem'])).toMatchObject({
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
    })
    expect(() => parseCliArgs(['--tls-cert', 'c.pem'])).toThrow(
      '--tls-cert and --tls-key go together',
    )
  })
})

describe('parseReloadArgs (demo-server reload)', () => {
  it('takes --pid, --pid-file or VERB_TCP_PID_FILE', () => {
    expect(parseReloadArgs(['--pid', '123'])).toEqual({ pid: 123 })
    expect(parseReloadArgs(['--pid-file', 'x.pid'])).toEqual({ pidFile: 'x.pid' })
    expect(parseReloadArgs([], { VERB_TCP_PID_FILE: 'env.pid' })).toEqual({ pidFile: 'env.pid' })
    expect(() => parseReloadArgs([])).toThrow('reload needs the server')
    expect(() => parseReloadArgs(['--pid', 'x'])).toThrow(UsageError)
    expect(() => parseReloadArgs(['--now'])).toThrow("Unknown option '--now'")
  })
})
