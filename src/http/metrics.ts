/**
 * Prometheus metrics: the process defaults plus a request counter and latency histogram labelled by
 * route pattern (not raw URL, which would explode the label set) and status.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, type Registry } from 'prom-client';

/** The metrics of one app, in the registry it was given (one per process in `tpcs serve`, one per app in tests). */
export interface HttpMetrics {
  registry: Registry;
}

/**
 * Adds the process defaults and the request metrics to `registry`, and records every answered request.
 *
 * @example
 * const {registry} = installMetrics(app, new Registry());
 * const text = await registry.metrics();
 */
export function installMetrics(app: FastifyInstance, registry: Registry): HttpMetrics {
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route pattern and status',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by route pattern and status',
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      // Unmatched requests share one label, whatever URL a scanner tried.
      route: request.routeOptions.url ?? 'unmatched',
      status_code: String(reply.statusCode),
    };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });
  return { registry };
}
