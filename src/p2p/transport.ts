import type { PeerVerdict } from '../core/errors.ts'

/**
 * What the chain-facing protocols need from the network, so that sync and
 * gossip logic do not depend on libp2p's types (and tests can drive them).
 */
export interface RequestOptions {
  timeoutMs: number
  maxResponseBytes: number
}

/** Throws a SyncError MALFORMED for a request that does not decode: the transport holds it against the peer. */
export type RequestHandler = (body: Uint8Array, peer: string) => Promise<Uint8Array>

export interface HandleOptions {
  maxRequestBytes: number
  /** Replies made and sent at once to one peer; its further requests wait their turn (none: as many as its streams). */
  repliesPerPeer?: number
}

export interface RequestTransport {
  /** One request, one length-prefixed reply; rejects on timeout, reset or a reply that breaks the framing (oversized, bad prefix). */
  request: (peer: string, protocol: string, body: Uint8Array, options: RequestOptions) => Promise<Uint8Array>
  handle: (protocol: string, handler: RequestHandler, options: HandleOptions) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
}

/** Verdicts of a gossip validator, as gossipsub's: accept forwards, reject penalises the sender, ignore drops. */
export type GossipVerdict = 'accept' | PeerVerdict['action']

export interface GossipTransport {
  subscribe: (topic: string, validate: (data: Uint8Array, from: string) => Promise<GossipVerdict>) => void
  unsubscribe: (topic: string) => void
  publish: (topic: string, data: Uint8Array) => Promise<void>
}

/** How protocols report misbehaving peers: offences add up to a temporary ban. */
export interface PeerPolicy {
  /** `weight` counts the offence several times: provable garbage weighs a ban at once. */
  penalise: (peer: string, reason: string, weight?: number) => void
}

/** An offence weight that bans on the spot (the verdict tables' Verdict.BAN). */
export { BAN_WEIGHT } from '../core/errors.ts'
