/** What a stall watch reads of a stream: the bytes written and not yet taken by the peer (libp2p's Stream has it). */
export interface WriteBuffered { readonly writeBufferLength: number }

/**
 * Watches a reply on its way to a peer: once the stream's write buffer holds
 * bytes and has not shrunk for `stallMs`, the peer has taken none of it for
 * that long, and `onStall` is called once with the bytes left. Returns the
 * function that ends the watch (call it when the reply is done or the stream
 * closed).
 */
export function watchStall (stream: WriteBuffered, stallMs: number, onStall: (bytesLeft: number) => void): () => void {
  let left = Infinity
  let movedAt = Date.now()
  const timer = setInterval(() => {
    const now = stream.writeBufferLength
    if (now < left) {
      left = now
      movedAt = Date.now()
    } else if (now > 0 && Date.now() - movedAt >= stallMs) {
      clearInterval(timer)
      onStall(now)
    }
  }, stallMs / 5)
  return () => { clearInterval(timer) }
}
