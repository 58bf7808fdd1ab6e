import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { missingRoleOf } from "./azure-identity.js";
import { withDeadline } from "./deadline.js";
import { type Logger, silentLogger } from "./observability/log.js";
import { UNAVAILABLE_REASONS, unavailableReasonOf } from "./unavailable.js";

export interface HealthCheck {
	name: string;
	check(): Promise<Record<string, unknown> | undefined>;
}

const CHECK_TIMEOUT_MS = 2000;

/**
 * One check's answer: its own fields when ok; a fixed reason when not (the detail goes to the log),
 * and the Azure role to grant when the service's identity lacks one (src/azure-identity.ts).
 */
async function run(check: HealthCheck, log: Logger): Promise<Record<string, unknown>> {
	try {
		return { status: "ok", ...(await withDeadline(CHECK_TIMEOUT_MS, check.name, () => check.check())) };
	} catch (err) {
		const reason = unavailableReasonOf(err);
		const missingRole = missingRoleOf(err);
		log.warn(
			`readiness check ${check.name} failed (${reason}): ${
				missingRole ? `grant the service's identity the role "${missingRole}". ` : ""
			}${(err as Error)?.message ?? String(err)}`,
			missingRole ? { missingRole } : {},
		);
		return { status: "unavailable", reason, ...(missingRole ? { missingRole } : {}) };
	}
}

const Health = z
	.object({
		status: z.enum(["ok", "unavailable"]),
		checks: z
			.record(z.string(), z.record(z.string(), z.unknown()))
			.optional()
			.openapi({
				description: `Per check: status, and when unavailable a reason: ${UNAVAILABLE_REASONS.join(", ")}; missingRole names the Azure role the service's identity lacks, when that is why`,
			}),
	})
	.openapi("Health");

export function registerHealthRoutes(
	app: OpenAPIHono,
	checks: HealthCheck[],
	log: Logger = silentLogger,
	/** Whether this caller sees each check's detail (else only the overall status). */
	showDetail: (c: Context) => boolean = () => true,
): void {
	app.openapi(
		createRoute({
			method: "get",
			path: "/health/live",
			operationId: "getLiveness",
			tags: ["Health"],
			summary: "The process is up",
			responses: { 200: { description: "Alive", content: { "application/json": { schema: Health } } } },
		}),
		(c) => c.json({ status: "ok" as const }, 200),
	);
	app.openapi(
		createRoute({
			method: "get",
			path: "/health/ready",
			operationId: "getReadiness",
			tags: ["Health"],
			summary: "Store and queue are reachable",
			responses: {
				200: { description: "Ready", content: { "application/json": { schema: Health } } },
				503: {
					description: "Not ready; checks say which part",
					content: { "application/json": { schema: Health } },
				},
			},
		}),
		async (c) => {
			const results = await Promise.all(checks.map(async (h) => [h.name, await run(h, log)] as const));
			const ready = results.every(([, r]) => r.status === "ok");
			const body = {
				status: ready ? ("ok" as const) : ("unavailable" as const),
				...(showDetail(c) ? { checks: Object.fromEntries(results) } : {}),
			};
			return ready ? c.json(body, 200) : c.json(body, 503);
		},
	);
}
