// y-leveldb 0.2.0 ships types in dist/ that its package.json "exports" does not point to.
declare module 'y-leveldb' {
  import type * as Y from 'yjs'

  export class LeveldbPersistence {
    constructor(location: string, options?: { Level?: unknown; levelOptions?: object })
    getYDoc(docName: string): Promise<Y.Doc>
    storeUpdate(docName: string, update: Uint8Array): Promise<number | null>
    flushDocument(docName: string): Promise<void>
    getStateVector(docName: string): Promise<Uint8Array>
    getDiff(docName: string, stateVector: Uint8Array): Promise<Uint8Array>
    clearDocument(docName: string): Promise<void>
    setMeta(docName: string, metaKey: string, value: unknown): Promise<void>
    getMeta(docName: string, metaKey: string): Promise<unknown>
    delMeta(docName: string, metaKey: string): Promise<void>
    getAllDocNames(): Promise<string[]>
    destroy(): Promise<void>
    clearAll(): Promise<void>
  }
}
