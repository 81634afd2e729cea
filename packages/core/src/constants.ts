/**
 * The protocol names of verb's `ServerProtocol` enum. This package serves only `TCP` and `TLS`;
 * the others are kept so code written against verb type-checks and fails with a clear error.
 */
export const ServerProtocol = {
  HTTP: 'http',
  HTTPS: 'https',
  HTTP2: 'http2',
  HTTP2S: 'http2s',
  WEBSOCKET: 'websocket',
  WEBSOCKETS: 'websockets',
  GRPC: 'grpc',
  GRPCS: 'grpcs',
  UDP: 'udp',
  DTLS: 'dtls',
  TCP: 'tcp',
  TLS: 'tls',
} as const

export type ServerProtocol = (typeof ServerProtocol)[keyof typeof ServerProtocol]

/** Host bound when none is given: loopback, so nothing is exposed by accident. */
export const DEFAULT_HOST = '127.0.0.1'
/** Port used when none is given: 0 asks the OS for a free one. */
export const DEFAULT_PORT = 0
/** Seconds-scale defaults from the verb docs' "Server Options", adopted as real defaults. */
export const DEFAULT_BACKLOG = 511
export const DEFAULT_KEEP_ALIVE_INITIAL_DELAY = 60_000
export const DEFAULT_IDLE_TIMEOUT = 300_000
/** The verb docs' `TCPServerManager` grace period. */
export const DEFAULT_GRACE_PERIOD = 30_000
