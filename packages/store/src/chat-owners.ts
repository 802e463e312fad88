import type { KeySpace } from './keys.js';
import type { RedisClient } from './redis.js';
import { ChatOwnerCode, commandsOf } from './scripts.js';

/** The Redis commands this class runs: one script and GET. */
export interface ChatOwnerCommands {
  rcChatOwner(key: string, tenant: string, ttlSeconds: number): Promise<number>;
  get(key: string): Promise<string | null>;
}

/**
 * Which tenant an AI SDK chat id belongs to. The chat's turn key is per tenant already, so no tenant can
 * read another's turn; this makes a chat id one tenant's, so another tenant asking for it is told it does
 * not exist (404) rather than "no turn running" (204), which would confirm the id is in use.
 */
export class ChatOwners {
  private readonly redis: ChatOwnerCommands;

  constructor(redis: RedisClient | ChatOwnerCommands, private readonly keys: KeySpace) {
    this.redis = commandsOf<ChatOwnerCommands>(redis);
  }

  /** Claims the chat for `tenant` (or renews its claim); false when another tenant holds it. One round trip. */
  async claim(chatId: string, tenant: string, ttlSeconds: number): Promise<boolean> {
    return (await this.redis.rcChatOwner(this.keys.compat.chatOwner(chatId), tenant, ttlSeconds)) === ChatOwnerCode.Ours;
  }

  /** Whether another tenant holds the chat (a chat no one has used is nobody's, so anyone's to ask about). */
  async othersHold(chatId: string, tenant: string): Promise<boolean> {
    const owner = await this.redis.get(this.keys.compat.chatOwner(chatId));
    return owner !== null && owner !== tenant;
  }
}
