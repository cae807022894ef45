import assert from 'node:assert/strict'
import { test } from 'node:test'
import { median, percentile } from '../src/util/stats.ts'

test('percentiles by nearest rank, of values in any order, which stay as they were', () => {
  const values = [7, 3, 10, 1, 9, 2, 8, 4, 6, 5]
  assert.equal(percentile(values, 50), 5)
  assert.equal(percentile(values, 95), 10)
  assert.equal(percentile(values, 91), 10)
  assert.equal(percentile(values, 90), 9)
  assert.equal(percentile(values, 0), 1)
  assert.equal(median([4, 1, 3]), 3)
  assert.deepEqual(values, [7, 3, 10, 1, 9, 2, 8, 4, 6, 5])
  assert.ok(Number.isNaN(percentile([], 50)))
})
