import { test } from 'node:test'
import assert from 'node:assert/strict'
import { defaultNodesPerProcess, placeNodes } from '../src/swarm/swarm.ts'

test('nodes share processes in turn, so that nodes started one after the other are in different ones; crash victims named by a timeline run alone', () => {
  assert.deepEqual(placeNodes(5, 1, new Set()), [-1, -1, -1, -1, -1])
  // 10 nodes, 4 a process: 3 processes of 4, 3 and 3 nodes.
  assert.deepEqual(placeNodes(10, 4, new Set()), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
  assert.deepEqual(placeNodes(6, 8, new Set([2])), [0, 0, -1, 0, 0, 0])
  assert.deepEqual(placeNodes(5, 2, new Set([0, 4])), [-1, 0, 1, 0, -1])
})

test('a process each up to 8 nodes, then 16 a process', () => {
  assert.equal(defaultNodesPerProcess(2), 1)
  assert.equal(defaultNodesPerProcess(8), 1)
  assert.equal(defaultNodesPerProcess(9), 16)
  assert.equal(defaultNodesPerProcess(64), 16)
})
