/** Entry point for browsers: the client with IndexedDB storage under a Web Lock. */

export { indexedDbStorage } from './browser/indexeddb-storage.ts'
export {
  type BackoffOptions,
  type ChangeEvent,
  type ClientOptions,
  type ClientStorage,
  type ConnectionStatus,
  createClient,
  type GetToken,
  type GroupEvents,
  type GroupSession,
  type Listener,
  type Message,
  type MessageCounts,
  type MessageWithCounts,
  memoryStorage,
  type OpenStorage,
  type OutboxEntry,
  ReadmarkClient,
  ReadmarkError,
  type ReadmarkErrorCode,
  type ReplicaStore,
  type SentMessage,
  type WebSocketConstructor,
} from './index.ts'
