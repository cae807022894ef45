import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BoundedSet } from '../src/util/bounded-set.ts'

test('a bounded set forgets its oldest entries beyond its size; adding a member again does not evict', () => {
  const set = new BoundedSet<string>(2)
  set.add('a')
  set.add('b')
  set.add('b')
  assert.equal(set.size, 2)
  assert.equal(set.has('a'), true)
  set.add('c')
  assert.equal(set.has('a'), false)
  assert.equal(set.has('b'), true)
  assert.equal(set.has('c'), true)
  assert.equal(set.size, 2)
})
