import { Worker } from 'node:worker_threads'

/**
 * Starts `count` workers on a module and waits for each one's first message,
 * which it posts once its imports are loaded.
 */
export async function startWorkers (url: URL, count: number): Promise<Worker[]> {
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
