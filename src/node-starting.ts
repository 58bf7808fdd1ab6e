// Start-up while storage does not answer yet (Node). The service needs the event log's epoch before
// it can serve; when Table Storage refuses or cannot be reached at start (an identity whose role
// assignment has not propagated, a firewall rule, an outage), it keeps trying instead of exiting in
// a restart loop, and meanwhile answers the probes: /health/live 200, /health/ready 503 naming the
// reason and, for an identity without its role, the role to grant. Everything else is a 503.
import { Hono } from "hono";
import { missingRoleOf } from "./azure-identity.js";
import type { Logger } from "./observability/log.js";
import { problem, problemResponse } from "./problem.js";
import { StoreUnavailableError } from "./storage/port.js";
import { unavailableReasonOf } from "./unavailable.js";

export interface StartingState {
	/** Why the last attempt failed: a fixed reason, and the role the identity lacks if that is why. */
	check: { status: "unavailable"; reason: string; missingRole?: string };
}

/** The app served until the service is ready. */
export function startingApp(state: () => StartingState | undefined): Hono {
	const app = new Hono();
	app.get("/health/live", (c) => c.json({ status: "ok" }));
	app.get("/health/ready", (c) =>
		c.json(
			{
				status: "unavailable",
				checks: { store: state()?.check ?? { status: "unavailable", reason: "starting" } },
			},
			503,
		),
	);
	app.all("*", () =>
		problemResponse(problem(503, "The service is starting: Table Storage has not answered yet."), {
			"retry-after": "5",
		}),
	);
	return app;
}

/**
 * Runs `start` until it succeeds or fails for another reason than storage; each storage failure is
 * logged (with the role to grant when that is why) and reported through `onFailure`.
 */
export async function retryWhileStorageUnavailable<T>(
	start: () => Promise<T>,
	options: { log: Logger; signal: AbortSignal; onFailure: (state: StartingState) => void; retryMs?: number },
): Promise<T> {
	for (;;) {
		try {
			return await start();
		} catch (err) {
			if (!(err instanceof StoreUnavailableError) || options.signal.aborted) throw err;
			const reason = unavailableReasonOf(err);
			const missingRole = missingRoleOf(err);
			options.onFailure({
				check: { status: "unavailable", reason, ...(missingRole ? { missingRole } : {}) },
			});
			options.log.warn(
				`not ready: Table Storage did not answer at start (${reason}): ${
					missingRole ? `grant the service's identity the role "${missingRole}". ` : ""
				}${err.message}; trying again in ${(options.retryMs ?? 5000) / 1000} s`,
				missingRole ? { missingRole } : {},
			);
			await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 5000));
		}
	}
}
