import type { IncomingMessage, ServerResponse } from 'node:http'

/** Answers one request; `url` is the request's, parsed. A throw is answered 500 by the server. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>

/** A handler the composition root mounts on the HTTP server. */
export interface HttpRoute {
  /** Path prefix, e.g. '/ipfs/' or '/metrics' or '/': the longest matching one wins. */
  prefix: string
  methods: Array<'GET' | 'HEAD' | 'POST'>
  handler: HttpHandler
}
