import assert from 'node:assert/strict'
import { test } from 'node:test'
import { IndexedHeap } from '../src/util/indexed-heap.ts'

interface Item { key: number, slot: number }

function heapOf (): IndexedHeap<Item> {
  return new IndexedHeap<Item>((a, b) => a.key < b.key, { get: i => i.slot, set: (i, n) => { i.slot = n } })
}

function walked (heap: IndexedHeap<Item>): number[] {
  const keys: number[] = []
  const walk = heap.walk()
  for (let item = walk.next(); item !== undefined; item = walk.next()) keys.push(item.key)
  return keys
}

test('an indexed heap keeps its order through pushes, deletes, changed keys and a rebuild, and walks it without emptying', () => {
  const heap = heapOf()
  assert.equal(heap.peek(), undefined)
  assert.deepEqual(walked(heap), [])
  // A fixed pseudo-random sequence: the test is the same every run.
  let seed = 7
  const random = (): number => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647
  const live = new Set<Item>()
  for (let n = 0; n < 2_000; n++) {
    const item = { key: Math.floor(random() * 500), slot: -1 }
    heap.push(item)
    live.add(item)
    if (n % 3 === 0) {
      const gone = [...live][Math.floor(random() * live.size)]
      heap.delete(gone)
      live.delete(gone)
      assert.equal(gone.slot, -1)
      heap.delete(gone)
    }
    if (n % 5 === 0 && live.size > 0) {
      const changed = [...live][Math.floor(random() * live.size)]
      changed.key = Math.floor(random() * 500)
      heap.update(changed)
    }
  }
  const sorted = [...live].map(i => i.key).sort((a, b) => a - b)
  assert.equal(heap.size, live.size)
  assert.equal(heap.peek()?.key, sorted[0])
  assert.deepEqual(walked(heap), sorted)
  assert.equal(heap.size, live.size, 'a walk takes nothing out')
  for (const item of live) assert.ok(item.slot >= 0 && item.slot < heap.size)
  // Built afresh from what stays when most leave at once: the same order, each knowing its place.
  const staying = [...live].filter((_, n) => n % 4 === 0)
  heap.reset(staying)
  assert.deepEqual(walked(heap), staying.map(i => i.key).sort((a, b) => a - b))
  for (const item of staying) heap.delete(item)
  assert.equal(heap.size, 0)
  heap.reset(live)
  heap.clear()
  assert.equal(heap.size, 0)
  for (const item of live) assert.equal(item.slot, -1)
})
