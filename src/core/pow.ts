import { CointsError } from './errors.ts'

const TWO_256 = 1n << 256n

/** Whether compact bits have the mantissa's sign bit set: a negative target, which bitsToTarget refuses. */
export function isNegativeBits (bits: number): boolean {
  return (bits & 0x0080_0000) !== 0
}

/** Bitcoin's compact "bits" form of a 256-bit target: 1 byte of size, 3 of mantissa. */
export function bitsToTarget (bits: number): bigint {
  const size = bits >>> 24
  const mantissa = BigInt(bits & 0x007f_ffff)
  if (isNegativeBits(bits)) throw new CointsError('BAD_BITS', 'negative target')
  return size <= 3 ? mantissa >> BigInt(8 * (3 - size)) : mantissa << BigInt(8 * (size - 3))
}

export function targetToBits (target: bigint): number {
  if (target <= 0n) return 0
  let size = Math.ceil(target.toString(16).length / 2)
  let mantissa = size <= 3 ? target << BigInt(8 * (3 - size)) : target >> BigInt(8 * (size - 3))
  // The top mantissa bit is a sign bit: shift it away rather than encode a negative target.
  if ((mantissa & 0x80_0000n) !== 0n) {
    mantissa >>= 8n
    size += 1
  }
  return (size << 24) | Number(mantissa)
}

/** Expected hashes to meet a target, as Bitcoin: 2^256 / (target + 1). */
export function workOf (bits: number): bigint {
  return TWO_256 / (bitsToTarget(bits) + 1n)
}

/** How a network sets each block's target. */
export type DifficultyRule =
  /** Always the easiest target, as Bitcoin's regtest. */
  | { kind: 'fixed' }
  /**
   * ASERT per block: the parent's target scaled by 2^((solve − spacing) / halfLife),
   * the parent's solve time capped at maxSolveTime (see expectedBits).
   */
  | { kind: 'asert', halfLife: number, maxSolveTime: number }

export interface DifficultyParams {
  powLimitBits: number
  genesisBits: number
  targetBlockTime: number
  difficulty: DifficultyRule
}

/**
 * Bitcoin Cash's aserti3-2d target, in its integer arithmetic: `refTarget` ×
 * 2^((timeDelta − spacing × (heightDelta + 1)) / halfLife), the exponent in
 * 16.16 fixed point (truncated toward zero, as C++ division), its fraction
 * through the spec's cubic approximation of 2^x (error under 0.013 %), then
 * bounded to 1..powLimit. timeDelta is from the anchor's parent's time to the
 * parent's, heightDelta from the anchor's height to the parent's.
 */
export function asertTarget (refTarget: bigint, timeDelta: number, heightDelta: number, spacing: number, halfLife: number, powLimit: bigint): bigint {
  const exponent = BigInt(timeDelta - spacing * (heightDelta + 1)) * 65_536n / BigInt(halfLife)
  // BigInt's >> floors and & is two's complement, as the spec's arithmetic shift and uint16 cast.
  const shifts = (exponent >> 16n) - 16n
  const frac = exponent & 0xffffn
  const factor = 65_536n + ((195_766_423_245_049n * frac + 971_821_376n * frac ** 2n + 5_127n * frac ** 3n + (1n << 47n)) >> 48n)
  const scaled = refTarget * factor
  const next = shifts <= 0n ? scaled >> -shifts : scaled << shifts
  if (next === 0n) return 1n
  return next > powLimit ? powLimit : next
}

/**
 * The target a block at `height` must claim. `fixed`: the network's limit.
 * `asert`: aserti3-2d with each block anchored on its parent, so the parent's
 * target moves by 2^((solve − spacing) / halfLife) with solve the parent's
 * solve time (its time minus the grandparent's): every block corrects for the
 * last, and over many blocks the corrections add up to the absolute schedule.
 * Two differences from Bitcoin Cash's fixed anchor, both for a LAN whose miners
 * come and go: the solve time counted is capped at maxSolveTime, so hours with
 * no miner make the next block a little easier rather than owing the schedule a
 * burst of fast blocks, and a faked first timestamp cannot hold the target at
 * the limit for as long as it lies. Blocks 1 and 2 take the genesis target: the
 * genesis time is fixed in the past, so block 2 is the first whose parent has a
 * solve time. `timeAt(h)` gives the timestamp of the ancestor at height h.
 */
export function expectedBits (params: DifficultyParams, height: number, parentBits: number, parentTime: number, timeAt: (height: number) => number): number {
  const rule = params.difficulty
  if (rule.kind === 'fixed') return params.powLimitBits
  if (height <= 2) return params.genesisBits
  const solve = Math.min(parentTime - timeAt(height - 2), rule.maxSolveTime)
  return targetToBits(asertTarget(bitsToTarget(parentBits), solve, 0, params.targetBlockTime, rule.halfLife, bitsToTarget(params.powLimitBits)))
}

/** Difficulty for display: how many times harder than the easiest allowed target. */
export function difficultyOf (bits: number, powLimitBits: number): number {
  const limit = bitsToTarget(powLimitBits)
  const target = bitsToTarget(bits)
  // Scale before dividing so the float keeps precision at both ends.
  return Number((limit * 1_000_000n) / target) / 1_000_000
}
