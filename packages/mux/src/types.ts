/** One decoded piece of a frame. Control frames come whole; data frames may come in pieces. */
export interface MuxFrame {
  streamId: number
  /** Payload length declared by the header. */
  length: number
  /** Where `payload` starts inside the frame's payload: 0 for the first (or only) piece. */
  offset: number
  /** True for the first piece of a frame, emitted as soon as the header is read. */
  start: boolean
  /** A view of the input (or one exact-size copy, for control frames spanning chunks). */
  payload: Buffer
}

/** Which end of the connection a session is: the dialler uses odd stream ids, the acceptor even. */
export type SessionRole = 'dialler' | 'acceptor'

/** Free-form metadata sent with `stream_create`; must survive `JSON.stringify`. */
export type StreamMetadata = Record<string, unknown>

export interface MuxSessionOptions {
  /** `'dialler'` (opened the TCP connection: odd ids) or `'acceptor'` (even ids). Required. */
  role: SessionRole
  /** Credit each new stream grants the peer, in bytes. @default 1048576 */
  initialWindow?: number
  /** Cap of a stream window under auto-tuning. @default 16777216 */
  maxWindow?: number
  /** Credit for all streams together. @default 4194304 */
  initialSessionWindow?: number
  /** Cap of the session window: bounds the bytes the peer can make us buffer. @default 67108864 */
  maxSessionWindow?: number
  /** Largest data payload per frame, sent and accepted. @default 65536 */
  maxFrameSize?: number
  /**
   * Largest data payload accepted from a legacy peer (one written from the verb docs, which
   * sends no hello). @default 16777216
   */
  maxLegacyFrameSize?: number
  /** @deprecated the old name of `maxLegacyFrameSize`, still accepted. */
  maxSeedFrameSize?: number
  /** Largest control message. @default 16384 */
  maxControlBytes?: number
  /** Concurrent streams the peer may have open towards us; more are refused. @default 1000 */
  maxStreams?: number
  /**
   * Stream opens per second accepted from the peer (token bucket, burst = rate). Opens over it
   * are refused with `REFUSED_STREAM`; refused opens over the same rate again close the session.
   * @default 1000
   */
  maxOpensPerSecond?: number
  /** Resets per second accepted from the peer before the session is closed. @default 1000 */
  maxResetsPerSecond?: number
  /**
   * Streams the peer may reset before a byte of data moved on them, in either direction (rapid
   * reset: the peer's reset of a stream we accepted, or of one we refused). A budget of this
   * many, refilled by a tenth of it per second and by one for every stream that does carry data.
   * Unlike the per-second budgets it is not outrun by a server too busy to read a flooding peer
   * at full rate: past it the session closes with `ERR_MUX_RATE_LIMITED`. @default 200
   */
  maxEmptyResets?: number
  /** Pings per second accepted from the peer before the session is closed. @default 100 */
  maxPingsPerSecond?: number
  /**
   * Frames per second accepted from the peer that carry little or no credit: data frames under
   * 256 bytes (zero-length included) and control messages of unknown types (token bucket, burst
   * = rate). Over it the session closes with `ERR_MUX_RATE_LIMITED`. @default 50000
   */
  maxSmallFramesPerSecond?: number
  /** Keepalive ping interval in ms; 0 disables keepalive. @default 30000 */
  keepAliveInterval?: number
  /** Time in ms a ping may wait for its pong before the session is closed. @default 15000 */
  pingTimeout?: number
  /**
   * Time in ms to wait for the peer's first frame. A peer silent for that long is taken for a
   * legacy peer (written from the verb docs: no hello, no flow control), so sending to it is no
   * longer held to the minimum window. A hello that arrives later is still accepted if we have
   * not sent past what it advertises. `0` waits for the first frame however long it takes.
   * @default 250
   */
  helloTimeout?: number
  /** Socket bytes queued before the scheduler waits for `'drain'`. @default 262144 */
  maxSocketBuffer?: number
  /** High-water mark of each stream's readable and writable side, in bytes. @default 262144 */
  streamHighWaterMark?: number
  /** Offer compact binary window updates in hello. @default true */
  compact?: boolean
  /**
   * Decides on streams the peer opens, before any `'stream'` event. Return false to refuse
   * (the peer gets a reset with `REFUSED_STREAM`). Without it, streams are accepted when the
   * session has a `'stream'` listener and refused otherwise.
   */
  acceptStream?: (info: StreamInfo) => boolean
}

export interface StreamInfo {
  id: number
  type: string
  metadata: StreamMetadata
}

/** What a peer's hello advertised (or the assumptions made for a legacy peer). */
export interface PeerSettings {
  /** False for a legacy peer: it sent no hello, and no flow control is applied towards it. */
  hello: boolean
  version: number
  initialWindow: number
  sessionWindow: number
  maxStreams: number
  maxFrameSize: number
  features: string[]
}

export interface GoAwayInfo {
  /** Highest stream id of ours the peer accepted; ours above it were never processed. */
  lastStreamId: number
  code: number
  reason: string
}
