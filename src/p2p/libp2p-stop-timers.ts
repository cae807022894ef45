/**
 * Timers js-libp2p 3.3 leaves running after its stop, which kept a stopped
 * node's process alive 2-3.5 s more (docs/upstream/libp2p-stop-timers.md):
 * gossipsub's next heartbeat (its stop forgets the timeout), and the 1 s
 * debounces of identify-push and of the address manager, never stopped; the
 * listeners closing arm the second, whose peer-record update then arms the
 * first. The handles are private to the libraries, hence the casts: each is
 * looked for and skipped when a release no longer has it.
 */
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p, Startable } from '@libp2p/interface'

interface Debounced { stop?: () => void }
interface StopInternals {
  components?: {
    addressManager?: { _updatePeerStoreAddresses?: Debounced }
    identifyPush?: { _push?: Debounced }
  }
}

/** A gossipsub whose stop also clears its pending heartbeat. */
export function clearingHeartbeatOnStop (pubsub: GossipSub): GossipSub {
  const internals = pubsub as unknown as Startable & { status?: { heartbeatTimeout?: ReturnType<typeof setTimeout> } }
  const stop = internals.stop.bind(pubsub)
  internals.stop = async () => {
    // Read before stop() replaces the status that holds it.
    const heartbeat = internals.status?.heartbeatTimeout
    await stop()
    clearTimeout(heartbeat)
  }
  return pubsub
}

/** Clears the debounces a stopped libp2p node left armed. */
export function clearDebouncesAfterStop (libp2p: Libp2p): void {
  const components = (libp2p as unknown as StopInternals).components
  components?.addressManager?._updatePeerStoreAddresses?.stop?.()
  components?.identifyPush?._push?.stop?.()
}
