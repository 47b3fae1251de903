/**
 * Data types of the public API. They repeat the shapes of the group document on purpose, so that
 * the published type declarations need no other workspace package.
 */

/** A message of the group document's window. */
export interface Message {
  seq: number
  /** The clientMessageId it was sent with. */
  id: string
  sender: string
  /** Server time of acceptance, in ms since the epoch. */
  at: number
  body?: string | undefined
  deleted?: boolean | undefined
}

/** Read and unread counts of one message. */
export interface MessageCounts {
  readCount: number
  unreadCount: number
}

/** A message of the window with its counts from the local replica. */
export interface MessageWithCounts extends Message, MessageCounts {}

/**
 * State of a session's sync connection: `offline` (no connection, waiting to reconnect or
 * stopped), `connecting` (socket opening), `syncing` (open, waiting for the server's state) and
 * `synced` (the replica has the server's state and changes flow both ways).
 */
export type ConnectionStatus = 'offline' | 'connecting' | 'syncing' | 'synced'

/** Payload of a `change` event: the origin and the parts of one change of the replica. */
export interface ChangeEvent {
  /** True for a change this device made (markRead), false for one from the server or storage. */
  local: boolean
  receipts: boolean
  members: boolean
  messages: boolean
}

/** A message accepted by the server. */
export interface SentMessage {
  clientMessageId: string
  seq: number
  /** False when the server had already accepted this clientMessageId, for example before a retry. */
  created: boolean
}

/** A message waiting in the outbox. */
export interface OutboxEntry {
  clientMessageId: string
  body?: string | undefined
  /** When send() queued it, in ms since the epoch. */
  queuedAt: number
  /** Failed attempts so far. */
  attempts: number
}
