import { availableParallelism } from 'node:os'
import type { Worker } from 'node:worker_threads'
import { startWorkers } from '../util/workers.ts'
import { verifySignature } from '../core/keys.ts'
import type { SigCheck } from '../core/rules.ts'
import { packChecks } from './sig-pack.ts'

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
  readonly #cache = new Set<string>()
  readonly #cacheSize: number
  readonly #threads: number
  #workers: Worker[] = []
  #starting: Promise<void> | undefined
  #next = 0
  #ids = 0
  readonly #pending = new Map<number, { resolve: (failed: number) => void, reject: (err: Error) => void }>()

  constructor (init: SignatureVerifierInit = {}) {
    this.#threads = Math.max(0, init.threads ?? availableParallelism())
    this.#cacheSize = init.cacheSize ?? 200_000
  }

  /**
   * Starts the workers on first use (an idle node holds none), waiting until each
   * has loaded libsecp256k1.
   */
  async warmUp (): Promise<void> {
    this.#starting ??= this.#startWorkers()
    await this.#starting
  }

  async #startWorkers (): Promise<void> {
    this.#workers = await startWorkers(new URL('./sig-worker.ts', import.meta.url), this.#threads)
    for (const worker of this.#workers) {
      worker.on('message', (m: { id: number, failed: number }) => {
        const p = this.#pending.get(m.id)
        this.#pending.delete(m.id)
        p?.resolve(m.failed)
      })
      worker.on('error', err => { for (const p of this.#pending.values()) p.reject(err) })
    }
  }

  async stop (): Promise<void> {
    await this.#starting?.catch(() => {})
    this.#starting = undefined
    const workers = this.#workers
    this.#workers = []
    await Promise.all(workers.map(async w => await w.terminate()))
  }

  /** Verifies all checks; true when every one is valid. Their transactions are then cached. */
  async verifyAll (checks: SigCheck[]): Promise<boolean> {
    const todo = checks.filter(c => !this.#cache.has(c.txid))
    if (todo.length === 0) return true
    let ok: boolean
    if (this.#threads === 0) {
      ok = todo.every(c => verifySignature(c.sig, c.msg, c.pubkey))
    } else {
      await this.warmUp()
      ok = await this.#verifyOnWorkers(todo)
    }
    if (ok) for (const c of todo) this.#remember(c.txid)
    return ok
  }

  /** Whether every signature of this transaction has been verified already. */
  has (txid: string): boolean {
    return this.#cache.has(txid)
  }

  /** Transactions in the cache, for tests and benchmarks. */
  get cached (): number { return this.#cache.size }

  async #verifyOnWorkers (checks: SigCheck[]): Promise<boolean> {
    const per = Math.ceil(checks.length / this.#workers.length)
    const jobs: Array<Promise<number>> = []
    for (let i = 0; i < checks.length; i += per) {
      const packed = packChecks(checks.slice(i, i + per))
      const worker = this.#workers[this.#next++ % this.#workers.length]
      const id = this.#ids++
      jobs.push(new Promise((resolve, reject) => {
        this.#pending.set(id, { resolve, reject })
        worker.postMessage({ id, packed }, [packed.buffer])
      }))
    }
    const results = await Promise.all(jobs)
    return results.every(failed => failed === -1)
  }

  #remember (txid: string): void {
    // A Set iterates in insertion order: dropping the first entry evicts the oldest.
    if (this.#cache.has(txid)) return
    if (this.#cache.size >= this.#cacheSize) {
      const oldest = this.#cache.values().next().value
      if (oldest !== undefined) this.#cache.delete(oldest)
    }
    this.#cache.add(txid)
  }
}
