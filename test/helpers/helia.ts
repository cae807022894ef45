import type { TestContext } from 'node:test'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createHelia } from 'helia'

export type StockHelia = ReturnType<typeof createHelia>

/**
 * A stock Helia 7 (createHelia, nothing of coints) on loopback TCP: no public
 * bootstrap list, no DHT, no delegated routers or gateways, no mDNS or UPnP
 * (multicast stays off real interfaces); bitswap, its blockstore and the rest
 * as they come. Started; stopped after the test.
 */
export async function stockHelia (t: Pick<TestContext, 'after'>): Promise<StockHelia> {
  const helia = createHelia({
    libp2p: {
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      peerDiscovery: [],
      services: { identify: identify() }
    },
    http: { delegatedRouters: [], recursiveGateways: [] }
  })
  await helia.start()
  t.after(async () => { await helia.stop() })
  return helia
}
