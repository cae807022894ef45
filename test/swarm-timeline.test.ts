import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { SeededRandom } from '../src/swarm/random.ts'
import { addedNodes, parseTimeline } from '../src/swarm/timeline.ts'

test('a seeded stream repeats itself, and streams of one seed differ', () => {
  const draw = (seed: number, stream: string): number[] => { const r = new SeededRandom(seed, stream); return Array.from({ length: 20 }, () => r.next()) }
  assert.deepEqual(draw(7, 'mining'), draw(7, 'mining'))
  assert.notDeepEqual(draw(7, 'mining'), draw(7, 'faults'))
  assert.notDeepEqual(draw(7, 'mining'), draw(8, 'mining'))
  assert.ok(draw(1, 'x').every(x => x >= 0 && x < 1))
  const r = new SeededRandom(3, 's')
  assert.deepEqual([...r.shuffle([1, 2, 3, 4, 5])].sort(), [1, 2, 3, 4, 5])
})

test('the example timeline in config/ parses', async () => {
  const file = JSON.parse(await readFile(new URL('../config/swarm-timeline.example.json', import.meta.url), 'utf8')) as { nodes: number, timeline: unknown }
  const events = parseTimeline(file.timeline, file.nodes)
  assert.deepEqual(events.map(e => e.do), ['skew', 'partition', 'heal', 'crash', 'restart', 'add', 'txrate', 'end'])
  assert.equal(addedNodes(events), 1)
})

test('a bad timeline is refused with the event and what is wrong', () => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /non-empty list/],
    [[{ at: 1, do: 'explode' }], /^timeline\[0\]: "do" must be one of partition, heal/],
    [[{ at: 5, do: 'txrate', rate: 1 }, { at: 2, do: 'txrate', rate: 2 }], /^timeline\[1\]: "at" 2 comes before/],
    [[{ at: 1, do: 'heal' }], /heal without a partition/],
    [[{ at: 1, do: 'crash', node: 4 }], /^timeline\[0\]: "node" must be an integer from 0 to 3/],
    [[{ at: 1, do: 'crash', node: 2 }, { at: 2, do: 'crash', node: 2 }], /^timeline\[1\]: node 2 is already down/],
    [[{ at: 1, do: 'restart', node: 2 }], /node 2 was not crashed/],
    [[{ at: 1, do: 'partition', groups: [[0, 1], [1, 2]] }], /a node is in two groups/],
    [[{ at: 1, do: 'partition', groups: [[0, 1]] }], /two or more non-empty lists/],
    [[{ at: 1, do: 'skew', node: 1 }], /"seconds" must be an integer/],
    [[{ at: 1, do: 'end' }, { at: 2, do: 'heal' }], /"end" must be the last event/],
    [[{ at: 1, do: 'crash', nodes: 2 }], /unknown key "nodes" for crash/]
  ]
  for (const [timeline, message] of bad) {
    assert.throws(() => parseTimeline(timeline, 4), (err: Error & { code?: string }) => err.code === 'BAD_TIMELINE' && message.test(err.message), JSON.stringify(timeline))
  }
  // A node the timeline adds may be named once it has joined.
  assert.deepEqual(parseTimeline([{ at: 1, do: 'add', nodes: 1 }, { at: 2, do: 'crash', node: 4 }], 4).map(e => e.do), ['add', 'crash'])
})
