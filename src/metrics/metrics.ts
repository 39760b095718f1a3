/**
 * The server's Prometheus metrics (SPEC §11): one registry per server, so several servers
 * in one process keep apart; request latency by route and status; and gauges read when
 * scraped, from whichever room registers one — the events hub (sockets, held long polls),
 * the bus, and the webhooks outbox (queue depth, oldest pending age).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One value of a labelled gauge or counter. */
export interface MetricSample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

export type MetricValue = number | readonly MetricSample[];

export interface ReadMetricSpec {
  /** `carte_…`, in Prometheus naming (`[a-zA-Z_:][a-zA-Z0-9_:]*`); counters end in `_total`. */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
  /** Called on every scrape; may query the database (a scrape waits for it). */
  readonly read: () => MetricValue | Promise<MetricValue>;
}

/**
 * Latency buckets, in seconds: requests, and held long polls up to the longest wait
 * (`events.maxWait`, 120 s by default).
 */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Histogram<'method' | 'route' | 'status'>;

  constructor(options: { readonly processMetrics: boolean }) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    this.requests = new Histogram({
      name: 'carte_http_request_duration_seconds',
      help: 'HTTP requests by method, route (the route pattern, not the path) and status code; _count counts them. Held long polls count their wait.',
      labelNames: ['method', 'route', 'status'],
      buckets: BUCKETS,
      registers: [this.registry],
    });
  }

  /** One answered HTTP request; `route` is the route's pattern (`/v1/orders/:id`), never the raw path. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.observe({ method, route, status: String(status) }, seconds);
  }

  /** A gauge whose value is read on each scrape (webhooks: `carte_webhook_queue_depth`, `carte_webhook_oldest_pending_seconds`). */
  registerGauge(spec: ReadMetricSpec): void {
    const { read } = spec;
    new Gauge({
      ...metricOptions(spec, this.registry),
      async collect() {
        this.reset();
        put(await read(), (v) => this.set(v), (labels, v) => this.set(labels, v));
      },
    });
  }

  /** A counter whose running total is kept elsewhere (a never-decreasing number) and read on each scrape. */
  registerCounter(spec: ReadMetricSpec): void {
    const { read } = spec;
    new Counter({
      ...metricOptions(spec, this.registry),
      async collect() {
        this.reset();
        put(await read(), (v) => this.inc(v), (labels, v) => this.inc(labels, v));
      },
    });
  }

  /** The text exposition format (`text/plain; version=0.0.4`). */
  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

function metricOptions(spec: ReadMetricSpec, registry: Registry): { name: string; help: string; labelNames: string[]; registers: Registry[] } {
  return { name: spec.name, help: spec.help, labelNames: [...(spec.labelNames ?? [])], registers: [registry] };
}

/** Hands a read value to a metric: one unlabelled number, or one value per label set. */
function put(value: MetricValue, one: (v: number) => void, each: (labels: Record<string, string>, v: number) => void): void {
  if (typeof value === 'number') one(value);
  else for (const sample of value) each(sample.labels ?? {}, sample.value);
}
