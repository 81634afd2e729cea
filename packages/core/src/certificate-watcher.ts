import { type FSWatcher, readFileSync, watch } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import type { SecureContextOptions } from 'node:tls'
import { ErrorCode, VerbTcpError } from './errors.ts'
import type { CertificateInfo } from './secure-context.ts'
import { argError, bool, fn, knownKeys, ms, optionKeys, string } from './validate.ts'

export interface WatchCertificatesOptions {
  /** Path of the PEM certificate (the leaf first, then any intermediates). */
  cert: string
  /** Path of the PEM private key. */
  key: string
  /** Path of PEM CA certificates (for servers that check client certificates). */
  ca?: string
  /**
   * Watch the files' directories and reload by itself after a change. `false`: reload only when
   * `reload()` is called (on SIGHUP, say). @default true
   */
  watch?: boolean
  /** Ms without further changes before the files are read, so a renewal writing several files is read once. @default 200 */
  debounce?: number
  /** A new certificate is serving. */
  onReload?: (certificate: CertificateInfo) => void
  /**
   * A reload was refused (`ERR_TLS_KEY_MISMATCH`, `ERR_TLS_CONTEXT_INVALID`) or watching failed
   * (`ERR_TLS_WATCH_FAILED`); the previous certificate keeps serving. Without it, the error goes
   * to the server's `onError` handlers.
   */
  onError?: (error: VerbTcpError) => void
}

const KEYS = optionKeys<WatchCertificatesOptions>({
  cert: true,
  key: true,
  ca: true,
  watch: true,
  debounce: true,
  onReload: true,
  onError: true,
})

/** What `reload()` did: swapped in new files, found them as they were, or refused them. */
export type ReloadOutcome = 'reloaded' | 'unchanged' | 'failed'

/** Returned by `app.watchCertificates()`. */
export interface CertificateWatcher {
  /** The certificate new connections get. */
  readonly certificate: CertificateInfo
  /**
   * Reads the files now and, if they changed and are a valid pair, puts them in service. A bad
   * pair goes to `onError` and the old one stays. Never throws.
   */
  reload(): ReloadOutcome
  /** Stops watching (the certificate in service stays). */
  close(): void
}

export interface WatchHost {
  /** Checks the options and swaps them in; throws a coded `VerbTcpError` and changes nothing on failure. */
  apply(tls: SecureContextOptions, what: string): CertificateInfo | undefined
  /** Where errors go when the options name no `onError`. */
  report(error: Error): void
}

/** Reads and applies the files once (throwing on failure), then watches them. */
export function createCertificateWatcher(
  options: WatchCertificatesOptions,
  host: WatchHost,
): CertificateWatcher {
  if (options === undefined) {
    throw argError(
      'ERR_INVALID_ARG_TYPE',
      'watchCertificates expects { cert, key } paths, got undefined',
    )
  }
  knownKeys(options, KEYS, 'watchCertificates')
  const files = {
    cert: resolve(string(options.cert, 'cert', '')),
    key: resolve(string(options.key, 'key', '')),
    ...(options.ca !== undefined && { ca: resolve(string(options.ca, 'ca', '')) }),
  }
  const watching = bool(options.watch, 'watch', true)
  const debounce = ms(options.debounce, 'debounce', 200)
  const onReload = fn<((info: CertificateInfo) => void) | undefined>(
    options.onReload,
    'onReload',
    undefined,
  )
  const onError = fn<((error: VerbTcpError) => void) | undefined>(
    options.onError,
    'onError',
    undefined,
  )
  const what = `the certificate files (cert ${files.cert}, key ${files.key}${files.ca ? `, ca ${files.ca}` : ''})`

  const read = (): { tls: SecureContextOptions; signature: string } => {
    const tls: Record<string, Buffer> = {}
    for (const [name, path] of Object.entries(files)) {
      try {
        tls[name] = readFileSync(path)
      } catch (cause) {
        throw new VerbTcpError(
          ErrorCode.TLS_CONTEXT_INVALID,
          `could not read the ${name} file ${path}: ${(cause as Error).message}`,
          { cause },
        )
      }
    }
    return {
      tls,
      signature: Object.values(tls)
        .map((b) => b.toString('base64'))
        .join('|'),
    }
  }
  const fail = (error: Error) => {
    try {
      if (onError) onError(error as VerbTcpError)
      else host.report(error)
    } catch (thrown) {
      process.emitWarning(thrown as Error, { code: 'VERB_TCP_ERROR_HANDLER_THREW' })
    }
  }

  const first = read()
  let certificate = host.apply(first.tls, what) as CertificateInfo
  // What is serving, and what was last refused (reported once, not on every event of a renewal).
  let serving = first.signature
  let refused: string | undefined

  const reload = (): ReloadOutcome => {
    let signature: string | undefined
    try {
      const next = read()
      signature = next.signature
      if (signature === serving) return 'unchanged'
      if (signature === refused) return 'failed'
      certificate = host.apply(next.tls, what) as CertificateInfo
    } catch (error) {
      refused = signature
      fail(error as Error)
      return 'failed'
    }
    serving = signature
    refused = undefined
    try {
      onReload?.(certificate)
    } catch (thrown) {
      // Like a throwing onListening: the application's bug, for the server's onError.
      host.report(thrown instanceof Error ? thrown : new Error(String(thrown)))
    }
    return 'reloaded'
  }

  // Directories, not files: a renewal usually renames a new file over the old one (or swaps a
  // symlink), which a watch on the file itself would not follow.
  const watchers: FSWatcher[] = []
  let timer: NodeJS.Timeout | undefined
  const schedule = () => {
    clearTimeout(timer)
    timer = setTimeout(reload, debounce)
    timer.unref()
  }
  const close = () => {
    clearTimeout(timer)
    for (const w of watchers.splice(0)) w.close()
  }
  if (watching) {
    const names = new Set(Object.values(files).map((path) => basename(path)))
    for (const dir of new Set(Object.values(files).map((path) => dirname(path)))) {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        // Kubernetes secrets swap a `..data` symlink: any entry may stand for our files.
        if (name === null || names.has(String(name)) || String(name).startsWith('..')) schedule()
      })
      watcher.on('error', (cause) => {
        fail(
          new VerbTcpError(
            ErrorCode.TLS_WATCH_FAILED,
            `stopped watching ${dir}: ${cause.message}`,
            {
              cause,
            },
          ),
        )
        watcher.close()
      })
      watchers.push(watcher)
    }
  }

  return {
    get certificate() {
      return certificate
    },
    reload,
    close,
  }
}
