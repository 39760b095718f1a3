/**
 * The server's Prometheus metrics (SPEC §11): one registry per server, so several servers
 * in one process keep apart; request latency by route and status; and gauges read when
 * scraped, from whichever room registers one — the events hub (sockets, held long polls),
 * the bus, and the webhooks outbox (queue depth, oldest pending age).
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

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
const BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** One label set of the request histogram: requests per bucket (not cumulative; the last is +Inf), their sum and count. */
interface Series {
  /** The label set as the exposition format writes it, built once. */
  readonly labels: string;
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * `carte_http_request_duration_seconds`, which every HTTP request feeds. prom-client's
 * `Histogram.observe` validates and hashes the label object and looks the bucket up by a
 * number-keyed property on every call: 4 % of the CPU of a `GET /v1/restaurants/1`
 * (`npm run bench:instructions -- --simulate`, 17,500 of 395,000 estimated cycles). Here a
 * request costs three `Map` lookups on strings the router and the HTTP parser already hold, and
 * one array increment; the text is written when scraped.
 */
export class RequestHistogram {
  static readonly NAME = 'carte_http_request_duration_seconds';
  static readonly HELP = 'HTTP requests by method, route (the route pattern, not the path) and status code; _count counts them. Held long polls count their wait.';
  /** route → method → status. Bounded: routes are patterns, methods the parser's, statuses three digits. */
  private readonly series = new Map<string, Map<string, Map<number, Series>>>();

  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.series.get(route);
    if (!byMethod) this.series.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) {
      const labels = `method="${labelValue(method)}",route="${labelValue(route)}",status="${status}"`;
      byStatus.set(status, (series = { labels, counts: new Array<number>(BUCKETS.length + 1).fill(0), sum: 0, count: 0 }));
    }
    // Prometheus buckets are upper bounds, inclusive (`le`); most requests land in the first.
    let bucket = 0;
    while (bucket < BUCKETS.length && seconds > (BUCKETS[bucket] as number)) bucket++;
    (series.counts[bucket] as number)++;
    series.sum += seconds;
    series.count++;
  }

  /** The text exposition format (version 0.0.4), buckets cumulative as the format wants. */
  text(): string {
    const name = RequestHistogram.NAME;
    const lines = [`# HELP ${name} ${RequestHistogram.HELP}`, `# TYPE ${name} histogram`];
    for (const byMethod of this.series.values())
      for (const byStatus of byMethod.values())
        for (const { labels, counts, sum, count } of byStatus.values()) {
          let cumulative = 0;
          BUCKETS.forEach((bound, i) => {
            cumulative += counts[i] as number;
            lines.push(`${name}_bucket{${labels},le="${bound}"} ${cumulative}`);
          });
          lines.push(`${name}_bucket{${labels},le="+Inf"} ${count}`, `${name}_sum{${labels}} ${sum}`, `${name}_count{${labels}} ${count}`);
        }
    return `${lines.join('\n')}\n`;
  }
}

/** A label value in the exposition format: backslash, double quote and line feed escaped. */
function labelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new RequestHistogram();

  constructor(options: { readonly processMetrics: boolean }) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** One answered HTTP request; `route` is the route's pattern (`/v1/orders/:id`), never the raw path. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.observe(method, route, status, seconds);
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

  /** The request histogram first, then the registry's metrics (Node's process metrics, the gauges and counters read on scrape). */
  async text(): Promise<string> {
    const rest = await this.registry.metrics();
    return rest.trim() === '' ? this.requests.text() : `${this.requests.text()}\n${rest}`;
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
