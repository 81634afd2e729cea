import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'
import { describe, expect, it } from 'vitest'
import type { CertificateInfo } from '../src/secure-context.ts'
import { createServer } from '../src/server.ts'
import { defer, fixture, nextCall, readBytes, track } from './helpers.ts'

// Two self-signed pairs for localhost/127.0.0.1 (EC P-256, valid until 2126), made with
// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500
//  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1`.
const A = { key: fixture('key.pem'), cert: fixture('cert.pem') }
const B = { key: fixture('key2.pem'), cert: fixture('cert2.pem') }
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256

function echoServer() {
  const errors: Error[] = []
  const app = track(
    createServer('tls')
      .withOptions({ tcp: { timeout: 0 } })
      .onConnection((socket) => {
        socket.on('data', (d) => socket.write(Buffer.concat([Buffer.from('Echo: '), d])))
      })
      .onError((error) => errors.push(error)),
  )
  return { app, errors }
}

/** A TLS client that trusts both test certificates; resolves once the handshake is done. */
async function client(port: number): Promise<TLSSocket> {
  const socket = tlsConnect({
    port,
    host: '127.0.0.1',
    ca: [A.cert, B.cert],
    servername: 'localhost',
  })
  socket.on('error', () => {})
  defer(() => socket.destroy())
  await once(socket, 'secureConnect')
  return socket
}
const served = (socket: TLSSocket) => socket.getPeerX509Certificate()?.fingerprint256

async function echoes(socket: TLSSocket, text: string): Promise<string> {
  socket.write(text)
  return (await readBytes(socket as never, 6 + Buffer.byteLength(text))).toString()
}

function certDir(pair: { key: string; cert: string }) {
  const dir = mkdtempSync(join(tmpdir(), 'verb-tcp-certs-'))
  defer(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'key.pem'), pair.key)
  writeFileSync(join(dir, 'cert.pem'), pair.cert)
  return { dir, key: join(dir, 'key.pem'), cert: join(dir, 'cert.pem') }
}

/** Writes a file the way renewal tools do: a new file renamed over the old one. */
function replace(path: string, text: string) {
  writeFileSync(`${path}.new`, text)
  renameSync(`${path}.new`, path)
}

describe('setSecureContext', () => {
  it('new connections get the new certificate; connections opened before keep working', async () => {
    const { app } = echoServer()
    app.withOptions({ tcp: { tls: A } })
    const { port } = await app.listen()
    const before = await client(port)
    expect(served(before)).toBe(fingerprint(A.cert))

    const info = app.setSecureContext(B)
    expect(info?.fingerprint256).toBe(fingerprint(B.cert))

    const after = await client(port)
    expect(served(after)).toBe(fingerprint(B.cert))
    expect(await echoes(after, 'new')).toBe('Echo: new')
    expect(await echoes(before, 'old')).toBe('Echo: old')
    expect(app.connections.size).toBe(2)
  })

  it('a key that belongs to another certificate is refused and the old pair keeps serving', async () => {
    const { app } = echoServer()
    app.withOptions({ tcp: { tls: A } })
    const { port } = await app.listen()
    expect(() => app.setSecureContext({ key: A.key, cert: B.cert })).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_KEY_MISMATCH' }),
    )
    // OpenSSL keeps a key of another type beside the certificate without complaint; we do not.
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    expect(() =>
      app.setSecureContext({ key: rsa.export({ type: 'pkcs8', format: 'pem' }), cert: B.cert }),
    ).toThrow(expect.objectContaining({ code: 'ERR_TLS_KEY_MISMATCH' }))
    expect(served(await client(port))).toBe(fingerprint(A.cert))
    expect(app.options.tcp?.tls?.cert).toBe(A.cert)
  })

  it('material OpenSSL cannot read is ERR_TLS_CONTEXT_INVALID, with the reason as cause', async () => {
    const { app } = echoServer()
    app.withOptions({ tcp: { tls: A } })
    const { port } = await app.listen()
    for (const bad of [{ cert: 'not a certificate' }, { key: 'not a key' }, { cert: '' }]) {
      let error: unknown
      try {
        app.setSecureContext(bad)
      } catch (thrown) {
        error = thrown
      }
      expect(error).toMatchObject({ name: 'VerbTcpError', code: 'ERR_TLS_CONTEXT_INVALID' })
      expect((error as Error).cause).toBeInstanceOf(Error)
    }
    expect(served(await client(port))).toBe(fingerprint(A.cert))
  })

  it('before listen it sets what listen uses', async () => {
    const { app } = echoServer()
    app.setSecureContext(B)
    const { port } = await app.listen()
    expect(served(await client(port))).toBe(fingerprint(B.cert))
  })

  it('is for TLS servers, and takes an options object', () => {
    expect(() => createServer('tcp').setSecureContext(A)).toThrow(
      expect.objectContaining({ code: 'ERR_PROTOCOL_UNSUPPORTED' }),
    )
    const app = createServer('tls')
    expect(() => app.setSecureContext(undefined as never)).toThrow(TypeError)
    expect(() => app.setSecureContext('cert' as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    )
  })
})

describe('watchCertificates', () => {
  it('reload() swaps in renewed files, reports the new certificate, and is a no-op when nothing changed', async () => {
    const { app } = echoServer()
    const files = certDir(A)
    const reloaded: CertificateInfo[] = []
    const watcher = app.watchCertificates({
      cert: files.cert,
      key: files.key,
      watch: false,
      onReload: (info) => reloaded.push(info),
    })
    defer(() => watcher.close())
    expect(watcher.certificate.fingerprint256).toBe(fingerprint(A.cert))
    const { port } = await app.listen()
    const before = await client(port)
    expect(served(before)).toBe(fingerprint(A.cert))

    replace(files.key, B.key)
    replace(files.cert, B.cert)
    expect(watcher.reload()).toBe('reloaded')
    expect(reloaded.map((i) => i.fingerprint256)).toEqual([fingerprint(B.cert)])
    expect(watcher.certificate.fingerprint256).toBe(fingerprint(B.cert))
    expect(served(await client(port))).toBe(fingerprint(B.cert))
    expect(await echoes(before, 'still here')).toBe('Echo: still here')

    expect(watcher.reload()).toBe('unchanged')
    expect(reloaded).toHaveLength(1)
  })

  it('a mismatched pair goes to onError once, coded, and the old pair keeps serving', async () => {
    const { app, errors } = echoServer()
    const files = certDir(A)
    const failed: Error[] = []
    const watcher = app.watchCertificates({
      cert: files.cert,
      key: files.key,
      watch: false,
      onError: (error) => failed.push(error),
    })
    defer(() => watcher.close())
    const { port } = await app.listen()

    replace(files.cert, B.cert) // the renewal has written the certificate, not yet the key
    expect(watcher.reload()).toBe('failed')
    expect(watcher.reload()).toBe('failed') // the same files again: not reported twice
    expect(failed).toEqual([expect.objectContaining({ code: 'ERR_TLS_KEY_MISMATCH' })])
    expect(failed[0]?.message).toContain(files.cert)
    expect(served(await client(port))).toBe(fingerprint(A.cert))
    expect(errors).toEqual([]) // onError given: the server's onError is not also called

    replace(files.key, B.key) // ... and now the key
    expect(watcher.reload()).toBe('reloaded')
    expect(served(await client(port))).toBe(fingerprint(B.cert))
  })

  it("without onError, a refused reload goes to the server's onError; a missing file is coded too", async () => {
    const { app, errors } = echoServer()
    const files = certDir(A)
    const watcher = app.watchCertificates({ cert: files.cert, key: files.key, watch: false })
    defer(() => watcher.close())
    await app.listen()
    rmSync(files.key)
    expect(watcher.reload()).toBe('failed')
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_TLS_CONTEXT_INVALID' })])
    expect(errors[0]?.cause).toMatchObject({ code: 'ENOENT' })
  })

  it("a throwing onReload goes to the server's onError; the new pair serves all the same", async () => {
    const { app, errors } = echoServer()
    const files = certDir(A)
    const watcher = app.watchCertificates({
      cert: files.cert,
      key: files.key,
      watch: false,
      onReload: () => {
        throw new Error('bug in onReload')
      },
    })
    defer(() => watcher.close())
    const { port } = await app.listen()
    replace(files.key, B.key)
    replace(files.cert, B.cert)
    expect(watcher.reload()).toBe('reloaded')
    expect(errors.map((e) => e.message)).toEqual(['bug in onReload'])
    expect(served(await client(port))).toBe(fingerprint(B.cert))
  })

  it('watches the files: a renewal renamed into place is served without a call', async () => {
    const { app } = echoServer()
    const files = certDir(A)
    const reloaded = nextCall<[CertificateInfo]>()
    const watcher = app.watchCertificates({
      cert: files.cert,
      key: files.key,
      debounce: 0,
      onReload: reloaded.fn,
    })
    defer(() => watcher.close())
    const { port } = await app.listen()
    replace(files.key, B.key)
    replace(files.cert, B.cert)
    const [info] = await reloaded.called
    expect(info.fingerprint256).toBe(fingerprint(B.cert))
    expect(served(await client(port))).toBe(fingerprint(B.cert))
  })

  it('throws at once for files that are not a valid pair, and checks its options', () => {
    const app = createServer('tls')
    const files = certDir({ key: A.key, cert: B.cert })
    expect(() => app.watchCertificates({ cert: files.cert, key: files.key })).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_KEY_MISMATCH' }),
    )
    expect(() =>
      app.watchCertificates({ cert: join(files.dir, 'missing.pem'), key: files.key }),
    ).toThrow(expect.objectContaining({ code: 'ERR_TLS_CONTEXT_INVALID' }))
    expect(() =>
      app.watchCertificates({ cert: files.cert, key: files.key, interval: 5 } as never),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
    expect(() => app.watchCertificates({ cert: files.cert, key: files.key, debounce: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    )
    expect(() => app.watchCertificates(undefined as never)).toThrow(TypeError)
  })
})
