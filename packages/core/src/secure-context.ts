import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { createSecureContext, type SecureContextOptions } from 'node:tls'
import { ErrorCode, VerbTcpError } from './errors.ts'

/** What a certificate watcher reports about the certificate it has just put in service. */
export interface CertificateInfo {
  /** SHA-256 fingerprint of the leaf certificate, `AA:BB:…` as `X509Certificate` spells it. */
  fingerprint256: string
  /** The leaf certificate's subject, one `key=value` per line. */
  subject: string
  validFrom: string
  validTo: string
}

type Pem = string | Buffer
type KeyInput = Pem | { pem: Pem; passphrase?: string }

const list = <T>(value: T | readonly T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? [...(value as T[])] : [value as T]

/**
 * Checks TLS options the way a server would use them, before any server does: OpenSSL must
 * accept them (`tls.createSecureContext`), and every certificate must have its private key among
 * the keys (OpenSSL keeps an RSA key beside an EC certificate without a word, and the handshake
 * then fails for every client). Returns the first certificate's details.
 *
 * Throws a `VerbTcpError`: `ERR_TLS_KEY_MISMATCH` for a key that does not belong to its
 * certificate, `ERR_TLS_CONTEXT_INVALID` for anything else OpenSSL rejects (`cause` says what).
 */
export function checkSecureContext(
  options: SecureContextOptions,
  what = 'the TLS options',
): CertificateInfo | undefined {
  try {
    createSecureContext(options)
  } catch (cause) {
    throw invalid(what, cause)
  }
  if (options.pfx !== undefined) return undefined
  let certs: X509Certificate[]
  let keys: KeyObject[]
  try {
    certs = list(options.cert as Pem | Pem[] | undefined).map((pem) => new X509Certificate(pem))
    keys = list(options.key as KeyInput | KeyInput[] | undefined).map((key) =>
      typeof key === 'object' && !Buffer.isBuffer(key)
        ? createPrivateKey({
            key: key.pem,
            ...((key.passphrase ?? options.passphrase) !== undefined && {
              passphrase: key.passphrase ?? options.passphrase,
            }),
          })
        : createPrivateKey({
            key,
            ...(options.passphrase !== undefined && { passphrase: options.passphrase }),
          }),
    )
  } catch (cause) {
    throw invalid(what, cause)
  }
  for (const cert of certs) {
    if (!keys.some((key) => cert.checkPrivateKey(key))) {
      throw new VerbTcpError(
        ErrorCode.TLS_KEY_MISMATCH,
        `${what}: the private key does not belong to the certificate (${cert.subject.replaceAll('\n', ', ')}, SHA-256 ${cert.fingerprint256})`,
      )
    }
  }
  const leaf = certs[0]
  return leaf && describe(leaf)
}

function describe(cert: X509Certificate): CertificateInfo {
  return {
    fingerprint256: cert.fingerprint256,
    subject: cert.subject,
    validFrom: cert.validFrom,
    validTo: cert.validTo,
  }
}

function invalid(what: string, cause: unknown): VerbTcpError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  // OpenSSL itself notices a key of the certificate's type that is not its key.
  const code =
    (cause as { code?: unknown }).code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
      ? ErrorCode.TLS_KEY_MISMATCH
      : ErrorCode.TLS_CONTEXT_INVALID
  const message =
    code === ErrorCode.TLS_KEY_MISMATCH
      ? `${what}: the private key does not belong to the certificate (${reason})`
      : `${what} were rejected: ${reason}`
  return new VerbTcpError(code, message, { cause })
}
