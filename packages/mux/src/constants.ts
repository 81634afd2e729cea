/** Bytes in every frame header: u32 BE stream id, then u32 BE payload length. */
export const HEADER_BYTES = 8

/** Stream 0 carries JSON control messages, one per frame, as in the verb docs. */
export const CONTROL_STREAM_ID = 0

/**
 * Compact binary control records (window updates), used only when both hellos list
 * `FEATURE_COMPACT`. This id is never used for a stream.
 */
export const COMPACT_STREAM_ID = 0xffff_ffff

/** Highest id a stream can have; after it the session is exhausted. */
export const MAX_STREAM_ID = 0xffff_fffe

/** Protocol version sent in `hello`. */
export const PROTOCOL_VERSION = 1

/** Feature flag in `hello.features`: window updates travel as compact records. */
export const FEATURE_COMPACT = 'compact-window'

/** One compact window-update record: u8 kind, u32 stream id, u32 high and u32 low of the limit. */
export const COMPACT_WINDOW_KIND = 1
export const COMPACT_WINDOW_BYTES = 13

/**
 * Smallest window and frame size a `hello` may advertise. Before the peer's hello arrives a
 * sender assumes exactly these, so it can never overrun a peer that turns out to be smaller.
 */
export const MIN_WINDOW = 16 * 1024
export const MIN_FRAME_SIZE = 16 * 1024

/** Largest absolute flow-control limit: offsets must stay exact in a double. */
export const MAX_LIMIT = Number.MAX_SAFE_INTEGER

export const DEFAULTS = {
  /** Credit a new stream grants its peer. */
  initialWindow: 1024 * 1024,
  /** Cap the stream window may auto-tune up to. */
  maxWindow: 16 * 1024 * 1024,
  /** Credit for the whole session, all streams together. */
  initialSessionWindow: 4 * 1024 * 1024,
  /** Cap the session window may auto-tune up to: the bound on buffered receive memory. */
  maxSessionWindow: 64 * 1024 * 1024,
  /** Largest data frame payload we accept and send. */
  maxFrameSize: 64 * 1024,
  /** Largest data frame from a legacy peer (no hello). Streamed through, never buffered whole. */
  maxLegacyFrameSize: 16 * 1024 * 1024,
  /** Largest control message (JSON on stream 0, compact batch). */
  maxControlBytes: 16 * 1024,
  /** Concurrent streams the peer may open towards us. */
  maxStreams: 1000,
  /** Streams the peer may open per second (token bucket, burst = rate); excess refused. */
  maxOpensPerSecond: 1000,
  /** Resets the peer may send per second. */
  maxResetsPerSecond: 1000,
  /**
   * Streams the peer may reset before a byte of data moved on them (rapid reset), as a budget
   * refilled by a tenth of it per second and by one per stream that did carry data.
   */
  maxEmptyResets: 200,
  /** Pings the peer may send per second. */
  maxPingsPerSecond: 100,
  /** Keepalive ping interval in ms; 0 disables it. */
  keepAliveInterval: 30_000,
  /** A ping without a pong after this many ms closes the session. */
  pingTimeout: 15_000,
  /** Bytes queued in the socket before the scheduler waits for `'drain'`. */
  maxSocketBuffer: 256 * 1024,
  /** Readable and writable high-water marks of each stream. */
  streamHighWaterMark: 256 * 1024,
  /**
   * How long to wait for the peer's first frame before treating it as a legacy peer (one
   * written from the verb docs, which never says hello). One round trip is enough for a peer
   * that does; short enough that an upload to a silent legacy server does not visibly stall.
   */
  helloTimeout: 250,
  /**
   * Frames per second that carry little or no credit (data under `SMALL_FRAME_BYTES`, control
   * messages of unknown types) a peer may send, refilled continuously. They cost work without
   * spending credit, so flow control alone does not bound them.
   */
  maxSmallFramesPerSecond: 50_000,
} as const

/** A data frame below this many payload bytes counts against `maxSmallFramesPerSecond`. */
export const SMALL_FRAME_BYTES = 256
