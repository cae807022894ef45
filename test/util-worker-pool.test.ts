import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Worker } from 'node:worker_threads'
import { WorkerPool } from '../src/util/worker-pool.ts'

/** A worker that says it is ready, then echoes what it is sent. */
const ECHO = new URL(`data:text/javascript,${encodeURIComponent("import { parentPort } from 'node:worker_threads'; parentPort.postMessage('ready'); parentPort.on('message', m => parentPort.postMessage(m))")}`)

test('a pool starts its workers on first use, once, and hands each to its listener', async t => {
  const seen: unknown[] = []
  const pool = new WorkerPool(ECHO, 2, worker => { seen.push(worker) })
  t.after(async () => { await pool.stop() })
  assert.equal(pool.workers.length, 0, 'nothing runs before the first start')
  await Promise.all([pool.start(), pool.start()])
  assert.equal(pool.workers.length, 2)
  assert.deepEqual(seen, [...pool.workers])
  const reply = new Promise(resolve => pool.workers[1].once('message', resolve))
  pool.workers[1].postMessage('hello')
  assert.equal(await reply, 'hello')
})

test('a pool stopped while starting terminates what it started and never starts again', async () => {
  const started: Worker[] = []
  const pool = new WorkerPool(ECHO, 2, worker => { started.push(worker) })
  const starting = pool.start()
  await pool.stop()
  await starting
  assert.equal(pool.workers.length, 0)
  assert.equal(started.length, 2, 'the start under way finished first')
  // A terminated worker's threadId is -1.
  assert.deepEqual(started.map(w => w.threadId), [-1, -1])
  assert.equal(pool.stopped, true)
  await pool.start()
  assert.equal(pool.workers.length, 0, 'a start after stop() started workers')
})
