import { DecodeError } from './errors.ts'
import { quoted } from './text.ts'

/** Base units per coin: amounts are always bigint base units, shown as decimal strings. */
export const COIN = 100_000_000n
/** No amount or sum of amounts may exceed this (as Bitcoin's MAX_MONEY), so sums cannot overflow any encoding. */
export const MAX_MONEY = 21_000_000n * COIN

export function isMoneyRange (v: bigint): boolean {
  return v >= 0n && v <= MAX_MONEY
}

/** 150000000n → "1.5"; never a float. */
export function formatAmount (units: bigint): string {
  const sign = units < 0n ? '-' : ''
  const abs = units < 0n ? -units : units
  const whole = abs / COIN
  const frac = (abs % COIN).toString().padStart(8, '0').replace(/0+$/, '')
  return `${sign}${whole}${frac === '' ? '' : '.' + frac}`
}

/** "1.5" → 150000000n. Strict: a decimal string with at most 8 fraction digits, within MAX_MONEY. */
export function parseAmount (text: unknown): bigint {
  // "-1" is a decimal string: a negative amount is told as what it is.
  if (typeof text === 'string' && /^-\d+(?:\.\d+)?$/.test(text)) throw new DecodeError('BAD_AMOUNT', `amount must not be negative, got ${quoted(text)}`)
  if (typeof text !== 'string' || !/^\d{1,8}(?:\.\d{1,8})?$/.test(text)) {
    throw new DecodeError('BAD_AMOUNT', `amount must be a decimal string of coins with at most 8 decimals, got ${quoted(text)}`)
  }
  const [whole, frac = ''] = text.split('.')
  const units = BigInt(whole) * COIN + BigInt(frac.padEnd(8, '0'))
  if (units > MAX_MONEY) throw new DecodeError('BAD_AMOUNT', `amount ${text} exceeds the money supply`)
  return units
}
