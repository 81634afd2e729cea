/**
 * `@verb-tcp/file-transfer`: the verb docs' file-transfer protocol made safe, resumable and
 * fast. `TCPFileTransferServer` speaks the docs' JSON messages (base64 chunks) for clients
 * written from the docs; `receiveFiles` and `sendFile` speak a binary fast path over
 * binary-frames' `FILE_TRANSFER` (0x20) frames. Both sit on one `FileReceiver`: names are never
 * paths, data lands under a server-generated id in a hidden partial area, SHA-256 is checked
 * before an atomic, no-overwrite publish, and an interrupted upload resumes from its offset.
 *
 * @example
 * ```ts
 * import { createServer } from '@verb-tcp/core'
 * import { FileReceiver, receiveFiles } from '@verb-tcp/file-transfer'
 *
 * const receiver = new FileReceiver('./uploads', { maxFileBytes: 1024 ** 3 })
 * const app = createServer().withOptions({
 *   port: 9000,
 *   tcp: { onConnection: (socket) => receiveFiles(socket, receiver) },
 * })
 * await app.listen()
 * ```
 * @packageDocumentation
 */
export {
  CHUNK_CRC,
  DEFAULT_CHUNK_BYTES,
  DEFAULT_MAX_CHUNK_BYTES,
  DEFAULT_MAX_CONCURRENT_TRANSFERS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MIN_FREE_BYTES,
  DEFAULT_PARTIAL_TTL_MS,
  DEFAULT_PROGRESS_EVERY,
  DEFAULT_WINDOW_BYTES,
  MAX_NAME_BYTES,
  Op,
  PARTIAL_DIR,
} from './constants.ts'
export { TCPFileTransferServer, type TCPFileTransferServerOptions } from './docs-server.ts'
export {
  FileTransferErrorCode,
  TransferError,
  type TransferErrorOptions,
  WireCode,
} from './errors.ts'
export { receiveFiles } from './fast-server.ts'
export { LocalDirectoryStorage, type LocalDirectoryStorageOptions } from './local-storage.ts'
export { isValidName, nameProblem } from './name.ts'
export { FileReceiver } from './receiver.ts'
export { ReceiverConnection } from './receiver-connection.ts'
export { cancelTransfer, type SendFileOptions, type SendProgress, sendFile } from './send-file.ts'
export type { FileStorage, PartialFile, PartialMeta } from './storage.ts'
export type {
  CompletedTransfer,
  FileReceiverEvents,
  FileReceiverOptions,
  StartRequest,
  StartResult,
} from './types.ts'
