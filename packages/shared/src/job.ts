import type { JobMessage, ToolChoice, ToolDefinition } from '@relaycast/protocol';

/** The BullMQ job the edge enqueues and ingest runs. The job id is the session id. */
export interface GenerateJob {
  sessionId: string;
  model: string;
  messages: JobMessage[];
  /** `stop`: sequences the answer ends before (ingest's per-job stop processor; the provider's own field too). */
  params: { max_tokens?: number | undefined; temperature?: number | undefined; seed?: number | undefined; stop?: string[] | undefined };
  /** Mock-model controls, forwarded only on routes that allow them. */
  mock?: { intervalMs?: number | undefined; firstTokenMs?: number | undefined; fault?: string | undefined; transcript?: string | undefined; shape?: { reasoning?: number | undefined; blocks?: number | undefined; tools?: number | undefined; noise?: boolean | undefined } | undefined };
  /** The X-Request-Id of the request that created the session, so ingest's log lines can be joined to it. */
  requestId?: string;
  /** Id of the API key that created the session: its running slot is released when the session ends. */
  keyId?: string;
  /** Functions the model may call (absent: none), and how it must choose among them. */
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
}
