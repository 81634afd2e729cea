import { argError, bool, fn, intInRange, knownKeys, ms, oneOf } from '@verb-tcp/core/validate'
import { DEFAULTS, MIN_FRAME_SIZE, MIN_WINDOW } from './constants.ts'
import type { MuxSessionOptions, SessionRole } from './types.ts'

/** Smallest accepted `maxControlBytes`: room for a hello, a goaway and a compact batch. */
export const MIN_CONTROL_BYTES = 4096

const U32 = 0xffff_ffff

/** Every option a session knows, so a misspelt one is an error and not a silent default. */
const KNOWN: readonly (keyof MuxSessionOptions)[] = [
  'role',
  'initialWindow',
  'maxWindow',
  'initialSessionWindow',
  'maxSessionWindow',
  'maxFrameSize',
  'maxLegacyFrameSize',
  'maxSeedFrameSize',
  'maxControlBytes',
  'maxStreams',
  'maxOpensPerSecond',
  'maxResetsPerSecond',
  'maxEmptyResets',
  'maxPingsPerSecond',
  'maxSmallFramesPerSecond',
  'keepAliveInterval',
  'pingTimeout',
  'helloTimeout',
  'maxSocketBuffer',
  'streamHighWaterMark',
  'compact',
  'acceptStream',
]

/** Options with every default filled in and every value checked. */
export interface ResolvedOptions {
  role: SessionRole
  initialWindow: number
  maxWindow: number
  initialSessionWindow: number
  maxSessionWindow: number
  maxFrameSize: number
  maxLegacyFrameSize: number
  maxControlBytes: number
  maxStreams: number
  maxOpensPerSecond: number
  maxResetsPerSecond: number
  maxEmptyResets: number
  maxPingsPerSecond: number
  maxSmallFramesPerSecond: number
  keepAliveInterval: number
  pingTimeout: number
  helloTimeout: number
  maxSocketBuffer: number
  streamHighWaterMark: number
  compact: boolean
  acceptStream: MuxSessionOptions['acceptStream'] | undefined
}

/**
 * Checks a session's options with core's validator (`TypeError`/`RangeError` with Node's codes)
 * and fills in the defaults. Windows below the protocol minimum, or caps below their initial
 * values, are out of range.
 */
export function resolveOptions(options: MuxSessionOptions): ResolvedOptions {
  knownKeys(options, KNOWN, 'mux session')
  const o: Partial<MuxSessionOptions> = options ?? {}
  if (o.role === undefined) {
    throw argError('ERR_INVALID_ARG_TYPE', "options.role must be 'dialler' or 'acceptor'")
  }
  const role = oneOf<SessionRole>(o.role, 'role', ['dialler', 'acceptor'], 'dialler')
  const initialWindow = intInRange(
    o.initialWindow,
    'initialWindow',
    DEFAULTS.initialWindow,
    MIN_WINDOW,
    U32,
  )
  const initialSessionWindow = intInRange(
    o.initialSessionWindow,
    'initialSessionWindow',
    Math.max(DEFAULTS.initialSessionWindow, initialWindow),
    MIN_WINDOW,
    U32,
  )
  const rate = (value: number | undefined, name: string, fallback: number) =>
    intInRange(value, name, fallback, 1, U32)
  // `maxSeedFrameSize` is the deprecated name of `maxLegacyFrameSize`; the new name wins.
  const legacyName = o.maxLegacyFrameSize === undefined ? 'maxSeedFrameSize' : 'maxLegacyFrameSize'
  return {
    role,
    initialWindow,
    maxWindow: intInRange(
      o.maxWindow,
      'maxWindow',
      Math.max(DEFAULTS.maxWindow, initialWindow),
      initialWindow,
      Number.MAX_SAFE_INTEGER,
    ),
    initialSessionWindow,
    maxSessionWindow: intInRange(
      o.maxSessionWindow,
      'maxSessionWindow',
      Math.max(DEFAULTS.maxSessionWindow, initialSessionWindow),
      initialSessionWindow,
      Number.MAX_SAFE_INTEGER,
    ),
    maxFrameSize: intInRange(
      o.maxFrameSize,
      'maxFrameSize',
      DEFAULTS.maxFrameSize,
      MIN_FRAME_SIZE,
      U32,
    ),
    maxLegacyFrameSize: intInRange(
      o.maxLegacyFrameSize ?? o.maxSeedFrameSize,
      legacyName,
      DEFAULTS.maxLegacyFrameSize,
      0,
      U32,
    ),
    maxControlBytes: intInRange(
      o.maxControlBytes,
      'maxControlBytes',
      DEFAULTS.maxControlBytes,
      MIN_CONTROL_BYTES,
      U32,
    ),
    maxStreams: intInRange(o.maxStreams, 'maxStreams', DEFAULTS.maxStreams, 0, U32),
    maxOpensPerSecond: rate(o.maxOpensPerSecond, 'maxOpensPerSecond', DEFAULTS.maxOpensPerSecond),
    maxResetsPerSecond: rate(
      o.maxResetsPerSecond,
      'maxResetsPerSecond',
      DEFAULTS.maxResetsPerSecond,
    ),
    maxEmptyResets: rate(o.maxEmptyResets, 'maxEmptyResets', DEFAULTS.maxEmptyResets),
    maxPingsPerSecond: rate(o.maxPingsPerSecond, 'maxPingsPerSecond', DEFAULTS.maxPingsPerSecond),
    maxSmallFramesPerSecond: rate(
      o.maxSmallFramesPerSecond,
      'maxSmallFramesPerSecond',
      DEFAULTS.maxSmallFramesPerSecond,
    ),
    keepAliveInterval: ms(o.keepAliveInterval, 'keepAliveInterval', DEFAULTS.keepAliveInterval),
    pingTimeout: ms(o.pingTimeout, 'pingTimeout', DEFAULTS.pingTimeout, 1),
    helloTimeout: ms(o.helloTimeout, 'helloTimeout', DEFAULTS.helloTimeout),
    maxSocketBuffer: intInRange(
      o.maxSocketBuffer,
      'maxSocketBuffer',
      DEFAULTS.maxSocketBuffer,
      1,
      U32,
    ),
    streamHighWaterMark: intInRange(
      o.streamHighWaterMark,
      'streamHighWaterMark',
      DEFAULTS.streamHighWaterMark,
      1,
      U32,
    ),
    compact: bool(o.compact, 'compact', true),
    acceptStream: fn(o.acceptStream, 'acceptStream', undefined),
  }
}
