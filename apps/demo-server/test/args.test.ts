import { describe, expect, it } from 'vitest'
import { DEFAULT_HOST, DEFAULT_PORT, parseCliArgs, UsageError } from '../src/args.ts'

describe('parseCliArgs', () => {
  it('defaults to 127.0.0.1:8080 at level info', () => {
    expect(parseCliArgs([])).toEqual({
      help: false,
      host: DEFAULT_HOST,
      port: DEFAULT_PORT,
      logLevel: 'info',
    })
    expect([DEFAULT_HOST, DEFAULT_PORT]).toEqual(['127.0.0.1', 8080])
  })

  it('reads --host and --port, in both spellings', () => {
    expect(parseCliArgs(['--host', '0.0.0.0', '--port', '0'])).toMatchObject({
      host: '0.0.0.0',
      port: 0,
    })
    expect(parseCliArgs(['--host=::1', '--port=65535'])).toMatchObject({ host: '::1', port: 65535 })
  })

  it('takes the last of repeated flags, so `npm start -- --port 9000` overrides the default', () => {
    // scripts/run.mjs runs `cli.js --host 127.0.0.1 --port 8080 <extra args>`.
    expect(parseCliArgs(['--host', '127.0.0.1', '--port', '8080', '--port', '9000'])).toMatchObject(
      {
        port: 9000,
      },
    )
  })

  it('reads --help and -h', () => {
    expect(parseCliArgs(['--help'])).toEqual({ help: true })
    expect(parseCliArgs(['-h', '--port', 'abc'])).toEqual({ help: true })
  })

  it.each([
    [['--port', 'abc'], '--port must be an integer from 0 to 65535, got "abc"'],
    [['--port', '65536'], 'got "65536"'],
    [['--port', '1.5'], 'got "1.5"'],
    [['--port', '0x10'], 'got "0x10"'],
    [['--port', ''], 'got ""'],
    [['--port=-1'], 'got "-1"'],
    [['--port'], "Option '--port <value>' argument missing"],
    [['--host', ' '], '--host must not be empty'],
    [['--verbose'], "Unknown option '--verbose'"],
    [['8080'], "Unexpected argument '8080'"],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError)
    expect(() => parseCliArgs(argv)).toThrow(message)
  })

  it('takes the log level from LOG_LEVEL and rejects an unknown one', () => {
    expect(parseCliArgs([], { LOG_LEVEL: 'debug' })).toMatchObject({ logLevel: 'debug' })
    expect(parseCliArgs([], { LOG_LEVEL: '' })).toMatchObject({ logLevel: 'info' })
    expect(() => parseCliArgs([], { LOG_LEVEL: 'loud' })).toThrow(UsageError)
  })
})
