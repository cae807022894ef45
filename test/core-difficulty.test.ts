/**
 * lan's difficulty by simulation: a pure function of simulated hash rates and
 * timestamps over the consensus rule itself (expectedBits), with expected solve
 * times (work / hash rate) so that every figure is exact and repeatable.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getNetwork, type NetworkParams } from '../src/core/params.ts'
import { asertTarget, bitsToTarget, expectedBits, targetToBits, workOf } from '../src/core/pow.ts'

const lan = getNetwork('lan')
const SPACING = lan.targetBlockTime
/** Hashes per second that find a block at the genesis target every 10 s. */
const GENESIS_RATE = Number(workOf(lan.genesisBits)) / SPACING
/** Intervals within this of 10 s count as on target (the issue's ±15 %). */
const TOLERANCE = 0.15

interface Block {
  /** Hash rate mining it, in GENESIS_RATE units. */
  rate: number
  /** Seconds with no miner before it. */
  pause?: number
  /** Its timestamp: the miner's clock, the latest the rules allow (clock + maxFutureBlockTime) or the earliest (median time past + 1). */
  stamp?: 'honest' | 'latest' | 'earliest'
}

interface Run {
  /** Real seconds each block took to find (index = height; pauses left out). */
  solve: number[]
  bits: number[]
  times: number[]
  /** The miner's clock when each block was found. */
  clocks: number[]
}

/** Mines blocks 1..count on `params`, block h as `plan(h)` says, from a clock 30 days after the genesis time. */
function simulate (params: NetworkParams, count: number, plan: (height: number) => Block, random?: () => number): Run {
  const times = [params.genesisTime]
  const bits = [params.genesisBits]
  const solve = [0]
  const clocks = [params.genesisTime]
  let clock = params.genesisTime + 30 * 86_400
  for (let h = 1; h <= count; h++) {
    const block = plan(h)
    const b = expectedBits(params, h, bits[h - 1], times[h - 1], k => times[k])
    const expected = Number(workOf(b)) / (block.rate * GENESIS_RATE)
    const took = random === undefined ? expected : -Math.log(random()) * expected
    clock += (block.pause ?? 0) + took
    const recent = times.slice(-params.medianTimeSpan).sort((x, y) => x - y)
    const earliest = recent[Math.floor(recent.length / 2)] + 1
    const latest = Math.floor(clock) + params.maxFutureBlockTime
    const stamp = block.stamp === 'latest' ? latest : block.stamp === 'earliest' ? earliest : Math.max(Math.floor(clock), earliest)
    times.push(stamp)
    bits.push(b)
    solve.push(took)
    clocks.push(clock)
  }
  return { solve, bits, times, clocks }
}

/** Blocks after `from` until every later one (to `to`) takes 10 s ± 15 %. */
function blocksToSettle (run: Run, from: number, to = run.solve.length - 1): number {
  for (let h = to; h > from; h--) if (Math.abs(run.solve[h] / SPACING - 1) > TOLERANCE) return h - from
  return 0
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

test('aserti3-2d\'s integer target equals Bitcoin Cash\'s published test vectors', () => {
  const limit = bitsToTarget(0x1d00ffff)
  // [anchor bits, parent height, parent time, expected bits]: anchor height 1, its parent's time 0, 600 s blocks, 2-day half-life.
  const vectors: Array<[number, number, number, number]> = [
    [0x1d00ffff, 2, 1200, 0x1d00ffff],
    [0x1d00ffff, 11, 6600, 0x1d00ffff],
    [0x1d00ffff, 2, 0, 0x1d00fec5],
    [0x1d00ffff, 290, 0, 0x1c7f62c0],
    [0x1d00ffff, 2882, 0, 0x1b3fb160],
    [0x1d00ffff, 60194, 0, 0x027f6200],
    [0x1d00ffff, 62498, 0, 0x017f0000],
    [0x1d00ffff, 64514, 0, 0x01010000],
    [0x1802aee8, 3, 1310, 0x1802ad91],
    [0x1802aee8, 9, 7099, 0x1802b39c],
    [0x1802aee8, 10, 7099, 0x1802b1f2],
    [0x1802aee8, 22, 12701, 0x1802ad89],
    [0x1802aee8, 160, 22709, 0x1801ffea],
    [0x1802aee8, 459, 29064, 0x1800ffb4]
  ]
  for (const [anchor, height, time, expected] of vectors) {
    const next = asertTarget(bitsToTarget(anchor), time, height - 1, 600, 172_800, limit)
    assert.equal(targetToBits(next).toString(16), expected.toString(16), `anchor ${anchor.toString(16)}, height ${height}, time ${time}`)
  }
})

test('lan from a cold start: 10 s ± 15 % within 120 blocks, for hash rates from a tenth to a hundred times the genesis target\'s', () => {
  for (const rate of [0.1, 1, 10, 100]) {
    const run = simulate(lan, 600, () => ({ rate }))
    const settled = blocksToSettle(run, 0)
    assert.ok(settled <= 120, `×${rate}: on target after block ${settled}`)
    // The old 30-block retarget measured its first window from the genesis time: every block after 30 got 4× easier.
    assert.ok(Math.abs(mean(run.solve.slice(200)) / SPACING - 1) < 0.01, `×${rate}: mean interval ${mean(run.solve.slice(200))}`)
  }
})

test('lan follows the hash rate: ×10 within 70 blocks, ÷10 within 35 blocks, back to 10 s ± 15 %', () => {
  const run = simulate(lan, 1_800, h => ({ rate: h > 1_200 ? 1 : h > 600 ? 10 : 1 }))
  const up = blocksToSettle(run, 600, 1_200)
  const down = blocksToSettle(run, 1_200)
  assert.ok(up <= 70, `×10: ${up} blocks`)
  assert.ok(down <= 35, `÷10: ${down} blocks`)
  assert.ok(blocksToSettle(run, 0, 600) < 30, 'steady before the step')
})

test('hours without a miner cost no burst of fast blocks: the solve time counts at most maxSolveTime', () => {
  const run = simulate(lan, 1_000, h => ({ rate: 1, pause: h === 500 ? 8 * 3_600 : 0 }))
  const fast = run.solve.slice(501).filter(s => s < SPACING * (1 - TOLERANCE)).length
  assert.ok(fast <= 40, `${fast} fast blocks after 8 hours without miners`)
  assert.ok(Math.min(...run.solve.slice(501)) > SPACING / 3, `fastest ${Math.min(...run.solve.slice(501))} s`)
  assert.ok(blocksToSettle(run, 500) <= 45)
})

test('timestamps a miner fakes within the allowed window make blocks cheaper for a block at a time, never for long', () => {
  assert.ok(lan.difficulty.kind === 'asert')
  const { halfLife } = lan.difficulty
  const F = lan.maxFutureBlockTime
  const honest = simulate(lan, 2_000, () => ({ rate: 1 }))
  const easiest = (run: Run, from: number, to: number): bigint => run.bits.slice(from, to).map(bitsToTarget).reduce((a, b) => a > b ? a : b)
  const steady = easiest(honest, 1_000, 2_000)
  // One miner with half the hash rate stamps each of its blocks as late, or as early, as the rules allow.
  for (const stamp of ['latest', 'earliest'] as const) {
    const run = simulate(lan, 2_000, h => ({ rate: 1, stamp: h > 1_000 && h % 2 === 0 ? stamp : 'honest' }))
    const cheapest = easiest(run, 1_000, 2_000)
    // A timestamp s seconds off makes one block at most 2^(s/halfLife) cheaper (ahead: the next; behind: the one
    // after the next, once the next has paid for it by being harder), and the honest timestamp after takes it back.
    // Ahead, s is at most F; behind, at most how far the median time past lags the clock (half the timestamps
    // on it drag it back: up to 14 blocks here).
    const skew = Math.max(...run.times.map((t, h) => Math.abs(t - run.clocks[h])).slice(1_001))
    assert.ok(skew <= (stamp === 'latest' ? F + 1 : 15 * SPACING), `${stamp}: timestamps up to ${skew} s off`)
    const bound = BigInt(Math.ceil(2 ** (skew / halfLife) * 1_010)) * steady / 1_000n
    const ratio = Number(cheapest * 1_000n / steady) / 1_000
    assert.ok(cheapest <= bound && ratio < 1.5, `${stamp}: cheapest target ${ratio}× the honest one`)
    const m = mean(run.solve.slice(1_001))
    assert.ok(Math.abs(m / SPACING - 1) < 0.05, `${stamp}: mean interval ${m} s over 1,000 blocks`)
  }
  // Every block from 1,000 on stamped F ahead: the schedule takes at most F / spacing extra blocks, then 10 s again.
  const ahead = simulate(lan, 2_000, h => ({ rate: 1, stamp: h > 1_000 ? 'latest' : 'honest' }))
  const seconds = ahead.solve.slice(1_001).reduce((a, b) => a + b, 0)
  const extra = 1_000 - seconds / SPACING
  assert.ok(extra <= F / SPACING + 1, `${extra} extra blocks`)
  assert.ok(blocksToSettle(ahead, 1_000) <= 40)
  // The first block's timestamp forged back to just after genesis: nothing is measured from it.
  const forged = simulate(lan, 600, h => ({ rate: 1, stamp: h === 1 ? 'earliest' : 'honest' }))
  assert.ok(blocksToSettle(forged, 0) <= 60, `forged first timestamp: on target after block ${blocksToSettle(forged, 0)}`)
})

test('lan with random solve times (exponential, seeded): the mean interval over 20,000 blocks is 10 s ± 2 %', () => {
  let seed = 20_26
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    return (seed + 0.5) / 2_147_483_648
  }
  const run = simulate(lan, 20_000, () => ({ rate: 4 }), random)
  const m = mean(run.solve.slice(1_000))
  assert.ok(Math.abs(m / SPACING - 1) < 0.02, `mean interval ${m} s`)
})
