import { Worker } from 'node:worker_threads'

/**
 * Worker threads on one module, started on first use (an idle node holds none)
 * and never again once stopped: a caller that comes after stop() must not start
 * threads that nothing will stop. Each worker posts a first message once its
 * imports are loaded; start() resolves when all have.
 */
export class WorkerPool {
  readonly #url: URL
  readonly #size: number
  readonly #onStarted: (worker: Worker) => void
  #workers: Worker[] = []
  #starting: Promise<void> | undefined
  #stopped = false

  /** `onStarted` is given each worker once all are ready, to listen to it. */
  constructor (url: URL, size: number, onStarted: (worker: Worker) => void = () => {}) {
    this.#url = url
    this.#size = size
    this.#onStarted = onStarted
  }

  get stopped (): boolean { return this.#stopped }

  /** Workers it runs once started. */
  get size (): number { return this.#size }

  /** The running workers: none before the first start(), none after stop(). */
  get workers (): readonly Worker[] { return this.#workers }

  /** Starts the workers, once; does nothing after stop(). */
  async start (): Promise<void> {
    if (this.#stopped) return
    this.#starting ??= this.#start()
    await this.#starting
  }

  async #start (): Promise<void> {
    this.#workers = await startWorkers(this.#url, this.#size)
    for (const worker of this.#workers) this.#onStarted(worker)
  }

  /** Terminates the workers, after a start under way has finished. */
  async stop (): Promise<void> {
    this.#stopped = true
    await this.#starting?.catch(() => {})
    this.#starting = undefined
    const workers = this.#workers
    this.#workers = []
    await Promise.all(workers.map(async w => await w.terminate()))
  }
}

async function startWorkers (url: URL, count: number): Promise<Worker[]> {
  const workers: Worker[] = []
  const ready: Array<Promise<void>> = []
  for (let i = 0; i < count; i++) {
    const worker = new Worker(url)
    ready.push(new Promise((resolve, reject) => {
      worker.once('message', () => { resolve() })
      worker.once('error', reject)
    }))
    workers.push(worker)
  }
  try {
    await Promise.all(ready)
  } catch (err) {
    await Promise.all(workers.map(async w => await w.terminate()))
    throw err
  }
  return workers
}
