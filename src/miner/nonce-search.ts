import { WorkerPool } from '../util/worker-pool.ts'
import { Header, type HeaderData } from '../core/block.ts'
import { bitsToTarget } from '../core/pow.ts'
import { headerTemplate } from './header-template.ts'
import type { PowReply } from './pow-worker.ts'
import { CointsError } from '../core/errors.ts'

/** The searcher was stopped: a late search must not start workers nothing will stop. */
export class MinerError extends CointsError<'STOPPED'> {}

export interface NonceSearchInit {
  threads?: number
}

/**
 * Runs the nonce search on worker threads (one by default: the node keeps a core
 * for validation and networking). One search at a time; abort() ends it within
 * milliseconds and makes it resolve null.
 */
export class NonceSearcher {
  readonly #pool: WorkerPool
  readonly #control = new Int32Array(new SharedArrayBuffer(4))
  #generation = 0
  #hashes = 0

  constructor (init: NonceSearchInit = {}) {
    this.#pool = new WorkerPool(new URL('./pow-worker.ts', import.meta.url), Math.max(1, init.threads ?? 1))
  }

  /** Starts the workers (on first use: a node that does not mine holds none). */
  async warmUp (): Promise<void> {
    if (this.#pool.stopped) throw new MinerError('STOPPED', 'the miner is stopped')
    await this.#pool.start()
  }

  async stop (): Promise<void> {
    this.abort()
    await this.#pool.stop()
  }

  /** Ends the current search (it resolves null). */
  abort (): void {
    Atomics.store(this.#control, 0, ++this.#generation)
  }

  /** Threads a search runs on. */
  get threads (): number { return this.#pool.size }

  /** Worker threads running, for tests: none until a search needs one, none after stop(). */
  get running (): number { return this.#pool.workers.length }

  /** Hashes tried since start, by every thread (the miner's hash rate is its rate). */
  get hashes (): number { return this.#hashes }

  /** Searches the nonce space of a header; null when aborted. */
  async search (data: HeaderData): Promise<Header | null> {
    const generation = ++this.#generation
    await this.warmUp()
    // An abort while the workers were starting ends this search before it begins.
    if (this.#generation !== generation) return null
    const { bytes, offset } = headerTemplate(data)
    const target = Buffer.from(bitsToTarget(data.bits).toString(16).padStart(64, '0'), 'hex')
    Atomics.store(this.#control, 0, generation)
    const workers = this.#pool.workers
    const replies = workers.map(async (worker, i) => await new Promise<PowReply>((resolve, reject) => {
      const settle = (): void => {
        worker.off('message', onMessage)
        worker.off('error', onError)
        worker.off('exit', onExit)
      }
      const onMessage = (reply: PowReply): void => {
        if (reply.generation !== generation) return
        this.#hashes += reply.hashes
        if (reply.type === 'progress') return
        settle()
        resolve(reply)
      }
      const onError = (err: Error): void => { settle(); reject(err) }
      // Terminated by stop() before it could answer the abort: the search ends with nothing found.
      const onExit = (): void => { settle(); resolve({ type: 'stopped', generation, hashes: 0 }) }
      worker.on('message', onMessage)
      worker.on('error', onError)
      worker.on('exit', onExit)
      worker.postMessage({ header: bytes, offset, target, start: i, stride: workers.length, generation, control: this.#control })
    }))
    const found = await new Promise<Extract<PowReply, { type: 'found' }> | null>((resolve, reject) => {
      let pending = replies.length
      for (const reply of replies) {
        reply.then(r => {
          if (r.type === 'found') resolve(r)
          else if (--pending === 0) resolve(null)
        }, reject)
      }
    })
    // Stop the other workers and wait for them, so the next search starts clean.
    this.abort()
    await Promise.all(replies)
    if (found === null) return null
    const header = Header.create({ ...data, nonce: found.nonce })
    if (!Buffer.from(header.id.multihash.digest).equals(found.digest)) throw new Error('worker result does not match the header encoding')
    return header
  }
}
