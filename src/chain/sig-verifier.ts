import { availableParallelism } from 'node:os'
import { WorkerPool } from '../util/worker-pool.ts'
import { verifySignature } from '../core/keys.ts'
import type { SigCheck } from '../core/rules.ts'
import { packChecks } from './sig-pack.ts'
import { BoundedSet } from '../util/bounded-set.ts'

/** Checks per message to a worker: small enough that both start early, large enough that messages stay few. */
const CHUNK_CHECKS = 256

export interface SignatureVerifierInit {
  /** Worker threads; 0 verifies on the calling thread (benchmarks' baseline). */
  threads?: number
  /** Entries kept in the cache of verified signatures. */
  cacheSize?: number
}

/**
 * Verifies signatures on a pool of worker threads, remembering the transactions
 * whose signatures all passed: one verified on mempool entry is not verified
 * again when its block arrives (Bitcoin's signature cache). Keyed by txid, which
 * commits to every signature, public key and the signed message.
 */
export class SignatureVerifier {
  readonly #cache: BoundedSet<string>
  readonly #threads: number
  /** Once it is stopped, checks run on the calling thread. */
  readonly #pool: WorkerPool
  #next = 0
  #ids = 0
  readonly #pending = new Map<number, { resolve: (failed: number) => void, reject: (err: Error) => void }>()

  constructor (init: SignatureVerifierInit = {}) {
    this.#threads = Math.max(0, init.threads ?? availableParallelism())
    this.#cache = new BoundedSet(init.cacheSize ?? 200_000)
    this.#pool = new WorkerPool(new URL('./sig-worker.ts', import.meta.url), this.#threads, worker => {
      worker.on('message', (m: { id: number, failed: number }) => {
        const p = this.#pending.get(m.id)
        this.#pending.delete(m.id)
        p?.resolve(m.failed)
      })
      worker.on('error', err => { for (const p of this.#pending.values()) p.reject(err) })
    })
  }

  /**
   * Starts the workers on first use (an idle node holds none), waiting until each
   * has loaded libsecp256k1.
   */
  async warmUp (): Promise<void> {
    await this.#pool.start()
  }

  async stop (): Promise<void> {
    await this.#pool.stop()
  }

  /**
   * Verifies all checks; true when every one is valid. Their transactions are then cached.
   * Checks go to the workers in chunks as they are produced, so the workers start
   * while the caller's iterable still computes the later ones (a block's sighashes).
   */
  async verifyAll (checks: Iterable<SigCheck>): Promise<boolean> {
    const txids = new Set<string>()
    const jobs: Array<Promise<boolean>> = []
    let chunk: SigCheck[] = []
    for (const check of checks) {
      if (this.#cache.has(check.txid)) continue
      txids.add(check.txid)
      chunk.push(check)
      if (chunk.length === CHUNK_CHECKS) {
        jobs.push(this.#verifyChunk(chunk))
        chunk = []
      }
    }
    if (chunk.length > 0) jobs.push(this.#verifyChunk(chunk))
    const ok = (await Promise.all(jobs)).every(Boolean)
    if (ok) for (const txid of txids) this.#cache.add(txid)
    return ok
  }

  /** Whether every signature of this transaction has been verified already. */
  has (txid: string): boolean {
    return this.#cache.has(txid)
  }

  /** Transactions in the cache, for tests and benchmarks. */
  get cached (): number { return this.#cache.size }

  /** Worker threads running, for tests: none until a signature needs one. */
  get running (): number { return this.#pool.workers.length }

  async #verifyChunk (checks: SigCheck[]): Promise<boolean> {
    if (this.#threads === 0 || this.#pool.stopped) return checks.every(c => verifySignature(c.sig, c.msg, c.pubkey))
    // Started by the first chunk only, so a call with nothing to verify starts none.
    // Awaited only when not running: an await here would hold the chunk until the caller yields.
    if (this.#pool.workers.length === 0) await this.warmUp()
    const packed = packChecks(checks)
    const workers = this.#pool.workers
    const worker = workers[this.#next++ % workers.length]
    const id = this.#ids++
    const failed = await new Promise<number>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      worker.postMessage({ id, packed }, [packed.buffer])
    })
    return failed === -1
  }
}
