/**
 * Errors carry a stable machine-readable code (as Lodestar's `BlockError`),
 * so callers branch on `err.code`, never on message text.
 */
export class CointsError<C extends string = string> extends Error {
  readonly code: C
  /** The message without its leading code: what an error wrapping this one quotes, so the code is not said twice. */
  readonly reason: string
  constructor (code: C, message?: string) {
    super(message === undefined ? code : `${code}: ${message}`)
    this.code = code
    this.reason = message ?? code
    this.name = new.target.name
  }
}

/**
 * What the sender of a message that failed with a code has earned, as
 * Lodestar attaches a GossipAction to each gossip error: `ignore` drops the
 * message and blames no one (it may become valid later, or is only redundant);
 * `reject` drops it and counts `weight` offences against the sender. Gossip,
 * sync and the ban list all read the tables below; no error is `accept`.
 */
export interface PeerVerdict {
  readonly action: 'ignore' | 'reject'
  readonly weight: number
}

/** Offences that earn a ban on the spot: what an honest peer never sends. */
export const BAN_WEIGHT = 100

export const Verdict = {
  /** Redundant, or valid for the sender and not yet for us: dropped, nobody punished. */
  IGNORE: { action: 'ignore', weight: 0 },
  /** Invalid whoever checks it (honest peers validate before they relay or serve): the sender is banned. */
  BAN: { action: 'reject', weight: BAN_WEIGHT },
  /** An offence that bans only when it recurs (three within the ban list's forget period): honest peers time out now and then. */
  LIGHT: { action: 'reject', weight: 1 }
} as const satisfies Record<string, PeerVerdict>

/** Bytes that do not decode to a well-formed object. */
export class DecodeError extends CointsError {}

export const TxErrorCode = {
  BAD_VERSION: 'BAD_VERSION',
  NO_INPUTS: 'NO_INPUTS',
  NO_OUTPUTS: 'NO_OUTPUTS',
  BAD_AMOUNT: 'BAD_AMOUNT',
  DUPLICATE_INPUT: 'DUPLICATE_INPUT',
  TOO_LARGE: 'TOO_LARGE',
  COINBASE_IN_MEMPOOL: 'COINBASE_IN_MEMPOOL',
  MISSING_INPUT: 'MISSING_INPUT',
  IMMATURE_SPEND: 'IMMATURE_SPEND',
  WRONG_KEY: 'WRONG_KEY',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  INSUFFICIENT_INPUTS: 'INSUFFICIENT_INPUTS',
  CONFLICT: 'CONFLICT',
  ALREADY_KNOWN: 'ALREADY_KNOWN',
  FEE_TOO_LOW: 'FEE_TOO_LOW',
  MEMPOOL_FULL: 'MEMPOOL_FULL',
  /** Mempool package limits (policy, not consensus: another node's pool may hold fewer of the ancestors). */
  TOO_MANY_ANCESTORS: 'TOO_MANY_ANCESTORS',
  ANCESTORS_TOO_LARGE: 'ANCESTORS_TOO_LARGE',
  TOO_MANY_DESCENDANTS: 'TOO_MANY_DESCENDANTS',
  DESCENDANTS_TOO_LARGE: 'DESCENDANTS_TOO_LARGE'
} as const
export type TxErrorCode = typeof TxErrorCode[keyof typeof TxErrorCode]

/** Each transaction error's verdict on the peer that relayed the transaction (Bitcoin Core punishes only TX_CONSENSUS). */
export const TX_VERDICTS: { readonly [C in TxErrorCode]: PeerVerdict } = {
  BAD_VERSION: Verdict.BAN,
  NO_INPUTS: Verdict.BAN,
  NO_OUTPUTS: Verdict.BAN,
  BAD_AMOUNT: Verdict.BAN,
  DUPLICATE_INPUT: Verdict.BAN,
  TOO_LARGE: Verdict.BAN,
  COINBASE_IN_MEMPOOL: Verdict.BAN,
  // Its parent may be on its way, or the coin was spent by a block we have and the sender has not yet.
  MISSING_INPUT: Verdict.IGNORE,
  IMMATURE_SPEND: Verdict.IGNORE,
  WRONG_KEY: Verdict.BAN,
  BAD_SIGNATURE: Verdict.BAN,
  INSUFFICIENT_INPUTS: Verdict.BAN,
  // Two spends of one coin race across the network; only one reaches each pool first.
  CONFLICT: Verdict.IGNORE,
  ALREADY_KNOWN: Verdict.IGNORE,
  // Our pool's policy, not the sender's fault.
  FEE_TOO_LOW: Verdict.IGNORE,
  MEMPOOL_FULL: Verdict.IGNORE,
  // The package limits too: a peer whose pool holds fewer of the ancestors relays in good faith.
  TOO_MANY_ANCESTORS: Verdict.IGNORE,
  ANCESTORS_TOO_LARGE: Verdict.IGNORE,
  TOO_MANY_DESCENDANTS: Verdict.IGNORE,
  DESCENDANTS_TOO_LARGE: Verdict.IGNORE
}

export class TxError extends CointsError<TxErrorCode> {
  get verdict (): PeerVerdict { return TX_VERDICTS[this.code] }
}

export const BlockErrorCode = {
  BAD_VERSION: 'BAD_VERSION',
  BAD_POW: 'BAD_POW',
  TARGET_ABOVE_LIMIT: 'TARGET_ABOVE_LIMIT',
  BAD_DIFFICULTY: 'BAD_DIFFICULTY',
  TIME_TOO_OLD: 'TIME_TOO_OLD',
  TIME_TOO_NEW: 'TIME_TOO_NEW',
  TOO_LARGE: 'TOO_LARGE',
  NO_COINBASE: 'NO_COINBASE',
  EXTRA_COINBASE: 'EXTRA_COINBASE',
  BAD_COINBASE_HEIGHT: 'BAD_COINBASE_HEIGHT',
  BAD_COINBASE_VALUE: 'BAD_COINBASE_VALUE',
  BAD_TX_ROOT: 'BAD_TX_ROOT',
  DUPLICATE_TX: 'DUPLICATE_TX',
  DOUBLE_SPEND: 'DOUBLE_SPEND',
  BAD_TX: 'BAD_TX',
  BAD_HEIGHT: 'BAD_HEIGHT',
  PREV_INVALID: 'PREV_INVALID',
  KNOWN_INVALID: 'KNOWN_INVALID'
} as const
export type BlockErrorCode = typeof BlockErrorCode[keyof typeof BlockErrorCode]

/**
 * Each block error's verdict on the peer that relayed or served the block. A
 * block fails these checks for every node that checks it, except one too new
 * for our clock (Bitcoin Core's BLOCK_TIME_FUTURE): that one may be our clock's fault.
 */
export const BLOCK_VERDICTS: { readonly [C in BlockErrorCode]: PeerVerdict } = {
  BAD_VERSION: Verdict.BAN,
  BAD_POW: Verdict.BAN,
  TARGET_ABOVE_LIMIT: Verdict.BAN,
  BAD_DIFFICULTY: Verdict.BAN,
  TIME_TOO_OLD: Verdict.BAN,
  TIME_TOO_NEW: Verdict.IGNORE,
  TOO_LARGE: Verdict.BAN,
  NO_COINBASE: Verdict.BAN,
  EXTRA_COINBASE: Verdict.BAN,
  BAD_COINBASE_HEIGHT: Verdict.BAN,
  BAD_COINBASE_VALUE: Verdict.BAN,
  BAD_TX_ROOT: Verdict.BAN,
  DUPLICATE_TX: Verdict.BAN,
  DOUBLE_SPEND: Verdict.BAN,
  BAD_TX: Verdict.BAN,
  BAD_HEIGHT: Verdict.BAN,
  PREV_INVALID: Verdict.BAN,
  KNOWN_INVALID: Verdict.BAN
}

export class BlockError extends CointsError<BlockErrorCode> {
  /** The transaction error behind a BAD_TX, for logs and peer scoring. */
  override readonly cause?: TxError
  constructor (code: BlockErrorCode, message?: string, cause?: TxError) {
    super(code, message)
    this.cause = cause
  }

  get verdict (): PeerVerdict { return BLOCK_VERDICTS[this.code] }
}
