import { BlockError, TxError, type PeerVerdict } from '../core/errors.ts'
import { SyncError } from './sync-messages.ts'
import type { PeerPolicy } from './transport.ts'

/**
 * The verdict an error carries on the peer whose message caused it; undefined
 * when it is not a peer's doing (a DecodeError out of the chain is a damaged
 * record of ours: the message itself decoded before).
 */
export function verdictOf (err: unknown): PeerVerdict | undefined {
  if (err instanceof BlockError || err instanceof TxError || err instanceof SyncError) return err.verdict
  return undefined
}

/**
 * Applies a verdict to `peer`: a rejection counts its weight against the peer
 * (gossip, sync and the ban list share this one reading of the tables).
 */
export function judge (peers: PeerPolicy, peer: string, verdict: PeerVerdict, reason: string): PeerVerdict['action'] {
  if (verdict.action === 'reject') peers.penalise(peer, reason, verdict.weight)
  return verdict.action
}
