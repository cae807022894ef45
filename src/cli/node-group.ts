/**
 * A process hosting several nodes of a loopback swarm (src/swarm/node-group.ts),
 * forked by the swarm: each start order carries `coints node` flags, read as
 * that command reads them.
 */
import { NodeGroup } from '../swarm/node-group.ts'
import { nodeOptionsOfArgs } from './commands/node.ts'

new NodeGroup(nodeOptionsOfArgs).serve()
