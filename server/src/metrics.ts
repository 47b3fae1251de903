import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** The Prometheus metrics of one server instance, on a registry of its own. */
export class ServerMetrics {
  readonly registry = new Registry()

  readonly connections = new Gauge({
    name: 'readmark_connections',
    help: 'Open sync connections.',
    registers: [this.registry],
  })
  readonly loadedDocuments = new Gauge({
    name: 'readmark_loaded_documents',
    help: 'Group documents held in memory.',
    registers: [this.registry],
  })
  readonly loadedSummaries = new Gauge({
    name: 'readmark_loaded_summaries',
    help: 'Group summaries held in memory.',
    registers: [this.registry],
  })
  readonly clientIds = new Gauge({
    name: 'readmark_document_client_ids',
    help: 'Yjs client ids in a loaded group document; each one slows every transaction on it.',
    labelNames: ['group'],
    registers: [this.registry],
  })
  readonly updatesAccepted = new Counter({
    name: 'readmark_updates_accepted_total',
    help: 'Client updates that passed the validator.',
    registers: [this.registry],
  })
  readonly updatesRejected = new Counter({
    name: 'readmark_updates_rejected_total',
    help: 'Client updates the validator rejected, by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  })
  readonly storeSeconds = new Histogram({
    name: 'readmark_store_seconds',
    help: 'Time to write a batch of updates to LevelDB.',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  })
  readonly storeFailures = new Counter({
    name: 'readmark_store_failures_total',
    help: 'Failed LevelDB writes of documents or summaries.',
    labelNames: ['store'],
    registers: [this.registry],
  })
  readonly fanoutSeconds = new Histogram({
    name: 'readmark_fanout_seconds',
    help: 'Time from the first update of a batch arriving to its broadcast being sent to every connection.',
    buckets: [
      0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1,
    ],
    registers: [this.registry],
  })
  readonly httpRequests = new Counter({
    name: 'readmark_http_requests_total',
    help: 'REST requests by status code.',
    labelNames: ['status'],
    registers: [this.registry],
  })
}
