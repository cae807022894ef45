import { CointsError, Verdict, type PeerVerdict } from '../core/errors.ts'

/** What a bitswap peer did that costs it its connection. */
export const BitswapErrorCode = {
  /** Wants outstanding past what a peer's wantlist holds: more than an honest client keeps open. */
  WANT_FLOOD: 'WANT_FLOOD',
  /** A message longer than the cap (a wantlist that large is a flood too). */
  MESSAGE_TOO_LONG: 'MESSAGE_TOO_LONG',
  /** A message that is no bitswap protobuf: no honest encoder writes it. */
  MALFORMED: 'MALFORMED',
  /** Blocks read for the peer and not yet taken by it past its budget. */
  BYTES_IN_FLIGHT: 'BYTES_IN_FLIGHT',
  /** A reply the peer did not take within the send timeout. */
  SLOW_READER: 'SLOW_READER'
} as const
export type BitswapErrorCode = typeof BitswapErrorCode[keyof typeof BitswapErrorCode]

/** Each bitswap offence's verdict, in the style of BLOCK_VERDICTS: the peer is dropped, and banned when it recurs or when it sent garbage. */
export const BITSWAP_VERDICTS: { readonly [C in BitswapErrorCode]: PeerVerdict } = {
  WANT_FLOOD: Verdict.LIGHT,
  MESSAGE_TOO_LONG: Verdict.LIGHT,
  MALFORMED: Verdict.BAN,
  BYTES_IN_FLIGHT: Verdict.LIGHT,
  SLOW_READER: Verdict.LIGHT
}

export class BitswapError extends CointsError<BitswapErrorCode> {
  get verdict (): PeerVerdict { return BITSWAP_VERDICTS[this.code] }
}
