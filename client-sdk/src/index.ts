export type { BackoffOptions } from './backoff.ts'
export { createClient, ReadmarkClient } from './client.ts'
export type { Listener } from './emitter.ts'
export { ReadmarkError, type ReadmarkErrorCode } from './errors.ts'
export type { ClientOptions } from './options.ts'
export type { GroupEvents, GroupSession } from './session.ts'
export {
  type ClientStorage,
  memoryStorage,
  type OpenStorage,
  type ReplicaStore,
} from './storage.ts'
export type { WebSocketConstructor } from './sync-connection.ts'
export type { GetToken } from './tokens.ts'
export type {
  ChangeEvent,
  ConnectionStatus,
  Message,
  MessageCounts,
  MessageWithCounts,
  OutboxEntry,
  SentMessage,
} from './types.ts'
