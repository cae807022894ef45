/**
 * Proof-of-work search on a worker thread: writes each nonce into the encoded
 * header in place and hashes it. The main thread cancels by bumping a shared
 * generation counter, seen here within a few thousand hashes (microseconds).
 */
import { hash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'

export interface PowJob {
  header: Uint8Array
  offset: number
  /** Target as 32 big-endian bytes. */
  target: Uint8Array
  start: number
  stride: number
  generation: number
  control: Int32Array
}

export type PowReply =
  | { type: 'found', generation: number, nonce: Uint8Array, digest: Uint8Array, hashes: number }
  | { type: 'stopped', generation: number, hashes: number }
  | { type: 'progress', generation: number, hashes: number }

const CHECK_EVERY = 4_096
const PROGRESS_MS = 250

/** digest ≤ target, comparing bytes (no bigint per attempt). */
function meetsTarget (digest: Uint8Array, target: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) {
    if (digest[i] !== target[i]) return digest[i] < target[i]
  }
  return true
}

function run (job: PowJob): PowReply {
  const header = Buffer.from(job.header)
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength)
  let hashes = 0
  let lastProgress = Date.now()
  for (let n = job.start; n < Number.MAX_SAFE_INTEGER; n += job.stride) {
    view.setUint32(job.offset, Math.floor(n / 0x1_0000_0000))
    view.setUint32(job.offset + 4, n >>> 0)
    const digest = hash('sha256', header, 'buffer')
    hashes++
    if (meetsTarget(digest, job.target)) {
      return { type: 'found', generation: job.generation, nonce: header.subarray(job.offset, job.offset + 8).slice(), digest, hashes }
    }
    if (hashes % CHECK_EVERY === 0) {
      if (Atomics.load(job.control, 0) !== job.generation) return { type: 'stopped', generation: job.generation, hashes }
      const now = Date.now()
      if (now - lastProgress >= PROGRESS_MS) {
        parentPort?.postMessage({ type: 'progress', generation: job.generation, hashes } satisfies PowReply)
        hashes = 0
        lastProgress = now
      }
    }
  }
  return { type: 'stopped', generation: job.generation, hashes }
}

parentPort?.postMessage('ready')
parentPort?.on('message', (job: PowJob) => { parentPort?.postMessage(run(job)) })
