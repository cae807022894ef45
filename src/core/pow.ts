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

export interface RetargetParams {
  powLimitBits: number
  targetBlockTime: number
  retargetInterval: number
  noRetarget: boolean
}

/**
 * The target a block at `height` must claim. Every `retargetInterval` blocks the
 * target is scaled by actual/expected time of the last interval, the actual time
 * clamped to ¼–4× the expected one (as Bitcoin) so no single adjustment moves
 * difficulty more than 4× either way; in between, the parent's target carries on.
 * `timeAt(h)` gives the timestamp of the ancestor at height h.
 */
export function expectedBits (params: RetargetParams, height: number, parentBits: number, parentTime: number, timeAt: (height: number) => number): number {
  if (params.noRetarget) return params.powLimitBits
  if (height % params.retargetInterval !== 0) return parentBits
  const expected = params.retargetInterval * params.targetBlockTime
  const first = timeAt(height - params.retargetInterval)
  const actual = Math.min(Math.max(parentTime - first, expected / 4), expected * 4)
  const limit = bitsToTarget(params.powLimitBits)
  const next = bitsToTarget(parentBits) * BigInt(Math.round(actual)) / BigInt(expected)
  return targetToBits(next > limit ? limit : next)
}

/** Difficulty for display: how many times harder than the easiest allowed target. */
export function difficultyOf (bits: number, powLimitBits: number): number {
  const limit = bitsToTarget(powLimitBits)
  const target = bitsToTarget(bits)
  // Scale before dividing so the float keeps precision at both ends.
  return Number((limit * 1_000_000n) / target) / 1_000_000
}
