/**
 * Length-prefixed frames on libp2p streams: an unsigned varint (LEB128, the
 * multiformats unsigned-varint), then that many bytes. Ours, not @libp2p/utils'
 * lpStream: its reader takes an over-long varint for "need more bytes", so it
 * never applies its cap, and decodes the prefix again after every byte without
 * yielding (1 MiB of 0x80 blocked the event loop 6.5 s; docs/upstream/libp2p-utils-lpstream.md).
 *
 * This reader looks at no more prefix bytes than the cap needs, refuses a frame
 * announced over the cap before buffering any of it, and handles each chunk the
 * stream delivers in work bounded by the chunk (a copy), never by the frame.
 */
import type { AbortOptions, MessageStream, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { CointsError } from '../core/errors.ts'

export const FramingErrorCode = {
  /** A length prefix longer than the cap needs, or not in its shortest form: no honest encoder writes it. */
  BAD_VARINT: 'BAD_VARINT',
  /** A frame announced longer than the cap: refused before any of its bytes are kept. */
  FRAME_TOO_LONG: 'FRAME_TOO_LONG',
  /** The peer closed its side of the stream before the frame was complete. */
  TRUNCATED: 'TRUNCATED',
  /** The stream was reset or its connection closed under the frame: no proof of anything. */
  CLOSED: 'CLOSED'
} as const
export type FramingErrorCode = typeof FramingErrorCode[keyof typeof FramingErrorCode]
export class FramingError extends CointsError<FramingErrorCode> {}

/** Bytes of the varint encoding of `n`. */
export function varintLength (n: number): number {
  let bytes = 1
  for (let rest = n; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes++
  return bytes
}

export function encodeVarint (n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n))
  let rest = n
  for (let i = 0; i < out.length - 1; i++) {
    out[i] = (rest % 0x80) | 0x80
    rest = Math.floor(rest / 0x80)
  }
  out[out.length - 1] = rest
  return out
}

/** A body buffer starts at most this large and doubles as bytes arrive: a peer's announced length alone allocates little. */
const INITIAL_BODY_BYTES = 64 * 1024

/**
 * Decodes one frame from the chunks of a stream, as they come. `push` returns
 * the frame once complete (bytes after it are not looked at) and throws a
 * FramingError for a bad prefix.
 */
export class FrameDecoder {
  readonly #maxBytes: number
  readonly #maxPrefix: number
  #prefixBytes = 0
  /** The prefix's value so far, while it is incomplete. */
  #partial = 0
  #length = -1
  #body = new Uint8Array(0)
  #received = 0

  constructor (maxBytes: number) {
    this.#maxBytes = maxBytes
    this.#maxPrefix = varintLength(maxBytes)
  }

  /** Bytes taken so far, prefix included. */
  get received (): number {
    return this.#prefixBytes + this.#received
  }

  push (chunk: Uint8Array | Uint8ArrayList): Uint8Array | undefined {
    for (const buf of chunk instanceof Uint8Array ? [chunk] : chunk) {
      let at = 0
      if (this.#length < 0) {
        at = this.#prefix(buf)
        if (this.#length < 0) continue
      }
      const take = Math.min(this.#length - this.#received, buf.length - at)
      if (take > 0) this.#append(buf.subarray(at, at + take))
      if (this.#received === this.#length) return this.#body.subarray(0, this.#length)
    }
    return undefined
  }

  /** Reads prefix bytes from `buf`; returns where the body starts in it. */
  #prefix (buf: Uint8Array): number {
    let at = 0
    let value = this.#partial
    while (at < buf.length) {
      const byte = buf[at++]
      value += (byte & 0x7f) * 2 ** (7 * this.#prefixBytes)
      this.#prefixBytes++
      if ((byte & 0x80) === 0) {
        if (byte === 0 && this.#prefixBytes > 1) throw new FramingError('BAD_VARINT', 'a length prefix not in its shortest form')
        if (value > this.#maxBytes) throw new FramingError('FRAME_TOO_LONG', `a frame of ${value} bytes, at most ${this.#maxBytes}`)
        this.#length = value
        this.#body = new Uint8Array(Math.min(value, INITIAL_BODY_BYTES))
        return at
      }
      if (this.#prefixBytes >= this.#maxPrefix) throw new FramingError('BAD_VARINT', `a length prefix longer than ${this.#maxPrefix} bytes (frames are at most ${this.#maxBytes} bytes)`)
    }
    this.#partial = value
    return at
  }

  #append (bytes: Uint8Array): void {
    const needed = this.#received + bytes.length
    if (needed > this.#body.length) {
      const grown = new Uint8Array(Math.min(this.#length, Math.max(needed, this.#body.length * 2)))
      grown.set(this.#body.subarray(0, this.#received))
      this.#body = grown
    }
    this.#body.set(bytes, this.#received)
    this.#received = needed
  }
}

/**
 * Reads the one frame of at most `maxBytes` a stream carries. Listens from the
 * call on (libp2p 3 resets a stream whose data nobody reads), and closes the
 * stream's readable end once the frame is in: later bytes are dropped unbuffered.
 * Rejects with a FramingError, or with the signal's reason once it aborts.
 */
export async function readFrame (stream: Stream, maxBytes: number, options: Required<Pick<AbortOptions, 'signal'>>): Promise<Uint8Array> {
  const decoder = new FrameDecoder(maxBytes)
  const { signal } = options
  return await new Promise<Uint8Array>((resolve, reject) => {
    const settle = (err: Error | undefined, frame?: Uint8Array): void => {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('remoteCloseWrite', onRemoteClose)
      stream.removeEventListener('close', onClose)
      signal.removeEventListener('abort', onAbort)
      if (err !== undefined) {
        reject(err)
        return
      }
      stream.closeRead().catch(() => {})
      resolve(frame as Uint8Array)
    }
    const truncated = (): FramingError => new FramingError('TRUNCATED', `the stream ended after ${decoder.received} bytes of a frame`)
    const onMessage = (evt: StreamMessageEvent): void => {
      let frame: Uint8Array | undefined
      try {
        frame = decoder.push(evt.data)
      } catch (err) {
        settle(err as Error)
        return
      }
      if (frame !== undefined) settle(undefined, frame)
      else if (stream.remoteWriteStatus === 'closed' && stream.readBufferLength === 0) settle(truncated())
    }
    const onRemoteClose = (): void => { settle(truncated()) }
    const onClose = (evt: StreamCloseEvent): void => {
      settle(new FramingError('CLOSED', evt.error === undefined ? 'the stream closed under a frame' : `the stream failed under a frame: ${evt.error.message}`))
    }
    const onAbort = (): void => { settle(signal.reason as Error) }
    if (signal.aborted) {
      reject(signal.reason as Error)
      return
    }
    if (stream.status !== 'open') {
      reject(new FramingError('CLOSED', `the stream is ${stream.status}`))
      return
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', onClose)
    signal.addEventListener('abort', onAbort)
    // Data the remote sent before closing its side is still buffered, and 'message' delivers it first.
    if (stream.remoteWriteStatus === 'closed' && stream.readBufferLength === 0) settle(truncated())
    else stream.addEventListener('remoteCloseWrite', onRemoteClose)
  })
}

/** Writes one frame; resolves once the stream takes more (its buffer below the muxer's limit), not once the peer read it. */
export async function writeFrame (stream: MessageStream, data: Uint8Array, options: AbortOptions): Promise<void> {
  if (!stream.send(new Uint8ArrayList(encodeVarint(data.byteLength), data))) await stream.onDrain(options)
}
