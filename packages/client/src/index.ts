export { RelaycastClient, sessionLinks, type ClientOptions } from './client.js';
export { Subscription } from './subscription.js';
export type { ConnectionNotice, EventSourceConstructor, EventSourceLike, MintedToken, SubscribeOptions, SubscriptionEventMap } from './subscription-types.js';
export { RelaycastHttpError, RelaycastNetworkError, RelaycastUsageError } from './errors.js';
export type { FetchLike } from './http.js';
export * from './types.js';
export { ProducerSession, PublisherStoppedError, RelaycastPublisher, type CreateProducerSession, type ProducerSessionInfo, type PublishedEvent, type PublisherOptions, type TerminalEvent, type WriterOptions } from './publisher.js';
