import { TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub'
import type { GossipTransport, GossipVerdict } from './transport.ts'

const VERDICTS: Record<GossipVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  reject: TopicValidatorResult.Reject,
  ignore: TopicValidatorResult.Ignore
}

/** GossipTransport over @libp2p/gossipsub: our validators become its topic validators. */
export class GossipsubTransport implements GossipTransport {
  readonly #pubsub: GossipSub

  constructor (pubsub: GossipSub) {
    this.#pubsub = pubsub
  }

  subscribe (topic: string, validate: (data: Uint8Array, from: string) => Promise<GossipVerdict>): void {
    this.#pubsub.topicValidators.set(topic, async (peer, message) => VERDICTS[await validate(message.data, peer.toString())])
    this.#pubsub.subscribe(topic)
  }

  unsubscribe (topic: string): void {
    this.#pubsub.unsubscribe(topic)
    this.#pubsub.topicValidators.delete(topic)
  }

  async publish (topic: string, data: Uint8Array): Promise<void> {
    await this.#pubsub.publish(topic, data)
  }
}
