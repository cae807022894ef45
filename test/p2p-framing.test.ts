import assert from 'node:assert/strict'
import { test } from 'node:test'
import { lpStream, streamPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { encodeVarint, FrameDecoder, FramingError, readFrame, writeFrame, type FramingErrorCode } from '../src/p2p/framing.ts'

const MIB = 1024 * 1024

function throwsCode (fn: () => unknown, code: FramingErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof FramingError && err.code === code)
}

/** Feeds `bytes` to a decoder in pieces of `size`; the frame, or undefined. */
function decodeInPieces (maxBytes: number, bytes: Uint8Array, size: number): Uint8Array | undefined {
  const decoder = new FrameDecoder(maxBytes)
  for (let at = 0; at < bytes.length; at += size) {
    const frame = decoder.push(bytes.subarray(at, at + size))
    if (frame !== undefined) return frame
  }
  return undefined
}

const frameOf = (body: Uint8Array): Uint8Array => Uint8Array.from([...encodeVarint(body.length), ...body])

test('a frame decodes whichever way its bytes are cut, empty frames included, and bytes after it are not taken', () => {
  const body = Uint8Array.from({ length: 300 }, (_, i) => i % 251)
  for (const size of [1, 2, 3, 7, 301, 1_000]) assert.deepEqual(decodeInPieces(1_000, frameOf(body), size), body, `pieces of ${size}`)
  assert.deepEqual(decodeInPieces(1_000, Uint8Array.of(0, 9, 9), 1), new Uint8Array(0))
  const decoder = new FrameDecoder(1_000)
  assert.deepEqual(decoder.push(new Uint8ArrayList(Uint8Array.of(3, 1), Uint8Array.of(2, 3, 4, 5))), Uint8Array.of(1, 2, 3))
  assert.deepEqual(decodeInPieces(2 ** 21, frameOf(new Uint8Array(200_000).fill(7)), 65_536), new Uint8Array(200_000).fill(7))
})

test('an over-long length prefix is refused after the bytes the cap needs, however many follow', () => {
  const flood = new Uint8Array(MIB).fill(0x80)
  // 64 fits one varint byte, 8,192 two, 20,000,000 four: the byte after them is never waited for.
  for (const [cap, bytes] of [[64, 1], [8_192, 2], [20_000_000, 4]]) {
    const decoder = new FrameDecoder(cap)
    throwsCode(() => decoder.push(flood), 'BAD_VARINT')
    assert.equal(decoder.received, bytes, `cap ${cap}`)
    const bytewise = new FrameDecoder(cap)
    for (let i = 0; i < bytes - 1; i++) assert.equal(bytewise.push(flood.subarray(0, 1)), undefined)
    throwsCode(() => bytewise.push(flood.subarray(0, 1)), 'BAD_VARINT')
  }
  // Not in its shortest form: 0x81 0x00 is 1.
  throwsCode(() => new FrameDecoder(1_000).push(Uint8Array.of(0x81, 0x00, 1)), 'BAD_VARINT')
})

test('a frame announced over the cap is refused at its prefix, before any body arrives', () => {
  throwsCode(() => new FrameDecoder(64).push(Uint8Array.of(65)), 'FRAME_TOO_LONG')
  throwsCode(() => new FrameDecoder(8_192).push(encodeVarint(8_193)), 'FRAME_TOO_LONG')
  const decoder = new FrameDecoder(20_000_000)
  assert.equal(decoder.push(encodeVarint(20_000_000)), undefined)
  throwsCode(() => new FrameDecoder(20_000_000).push(encodeVarint(20_000_001)), 'FRAME_TOO_LONG')
})

test('frames interoperate with @libp2p/utils lpStream both ways over a stream pair', async () => {
  const [a, b] = await streamPair()
  const body = new Uint8Array(150_000).fill(3)
  const got = readFrame(b, 200_000, { signal: AbortSignal.timeout(10_000) })
  await lpStream(a).write(body)
  assert.deepEqual(await got, body)

  const [c, d] = await streamPair()
  const reader = lpStream(d, { maxDataLength: 200_000 })
  await writeFrame(c, body, { signal: AbortSignal.timeout(10_000) })
  assert.deepEqual((await reader.read()).subarray(), body)
})

test('readFrame: a half-close mid-frame is TRUNCATED, a reset CLOSED, the deadline rejects with its reason', async () => {
  const rejectsCode = async (promise: Promise<unknown>, code: FramingErrorCode): Promise<void> => {
    await assert.rejects(promise, (err: unknown) => err instanceof FramingError && err.code === code)
  }
  const [a, b] = await streamPair()
  const truncated = readFrame(b, 1_000, { signal: AbortSignal.timeout(10_000) })
  a.send(Uint8Array.of(10, 1, 2))
  await a.close()
  await rejectsCode(truncated, 'TRUNCATED')

  const [c, d] = await streamPair()
  const reset = readFrame(d, 1_000, { signal: AbortSignal.timeout(10_000) })
  c.send(Uint8Array.of(10, 1, 2))
  c.abort(new Error('gone'))
  await rejectsCode(reset, 'CLOSED')

  const [, f] = await streamPair()
  await assert.rejects(readFrame(f, 1_000, { signal: AbortSignal.timeout(50) }), (err: unknown) => err instanceof DOMException && err.name === 'TimeoutError')

  const [g, h] = await streamPair()
  const bad = readFrame(h, 64, { signal: AbortSignal.timeout(10_000) })
  g.send(new Uint8Array(MIB).fill(0x80))
  await rejectsCode(bad, 'BAD_VARINT')
})
