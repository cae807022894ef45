import type { Registry } from 'prom-client'
import type { HttpRoute } from './types.ts'

/** /metrics: the registry in Prometheus's text format, as each scrape finds it. */
export function metricsRoute (registry: Registry): HttpRoute {
  return {
    prefix: '/metrics',
    methods: ['GET'],
    handler: async (_req, res) => {
      const body = await registry.metrics()
      res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': String(Buffer.byteLength(body)), 'Cache-Control': 'no-store' })
      res.end(body)
    }
  }
}
