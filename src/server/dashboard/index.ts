// Everything a node serves for people and monitoring besides the KV API: the dashboard, its live
// feed and /metrics. `leasekv serve` passes this to startNode's `routes`.
import type { ExtraRoute } from '../api/server.ts';
import type { NodeConfig } from '../config.ts';
import { createNodeMetrics } from '../metrics.ts';
import type { LeaseKvNode } from '../node.ts';
import type { NodeParts } from '../start.ts';
import { createDashboard } from './routes.ts';

export { createDashboard, memberOrigins } from './routes.ts';

/** Routes for GET /, /dashboard/*, /events and /metrics. controlUrl: LEASEKV_CONTROL_URL or ''. */
export function observabilityRoutes(
  node: LeaseKvNode,
  parts: NodeParts,
  cfg: NodeConfig,
  controlUrl: string,
): ExtraRoute[] {
  const dashboard = createDashboard(node, { cfg, controlUrl, loopLag: () => parts.loopLag() });
  const metrics = createNodeMetrics(node, parts);
  return [...dashboard.routes, metrics.route];
}
