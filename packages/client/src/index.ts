export { RelaycastClient, sessionLinks, type ClientOptions } from './client.js';
export { Subscription, type ConnectionNotice, type EventSourceConstructor, type EventSourceLike, type MintedToken, type SubscribeOptions, type SubscriptionEventMap, type ToolCall } from './subscription.js';
export { RelaycastHttpError, RelaycastNetworkError, RelaycastUsageError } from './errors.js';
export type { FetchLike } from './http.js';
export * from './types.js';
