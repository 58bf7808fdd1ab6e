// Why a dependency (Table Storage, Service Bus) cannot serve, in a few fixed words. Public answers
// (/health/ready, /orderHub/stats) say only these; the error's detail (hosts, ports, SDK messages)
// goes to the log.

export const UNAVAILABLE_REASONS = ["unreachable", "timeout", "unauthorized", "misconfigured"] as const;
export type UnavailableReason = (typeof UNAVAILABLE_REASONS)[number];

const isReason = (v: unknown): v is UnavailableReason =>
	typeof v === "string" && (UNAVAILABLE_REASONS as readonly string[]).includes(v);

/** Thrown by withDeadline (src/deadline.ts) when the work did not finish in time. */
export class DeadlineError extends Error {
	readonly reason = "timeout";
	constructor(message: string) {
		super(message);
		this.name = "DeadlineError";
	}
}

/** The reason an error stands for, looking through its causes; "unreachable" when nothing says more. */
export function unavailableReasonOf(err: unknown): UnavailableReason {
	for (let e = err, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
		const { reason, name, code, statusCode } = e as Record<string, unknown>;
		if (isReason(reason)) return reason;
		if (name === "AbortError" || name === "TimeoutError" || code === "ServiceTimeout") return "timeout";
		if (
			statusCode === 401 ||
			statusCode === 403 ||
			code === "UnauthorizedAccess" ||
			code === "UnauthorizedError"
		)
			return "unauthorized";
		if (statusCode === 404 || code === "MessagingEntityNotFound") return "misconfigured";
		e = (e as { cause?: unknown }).cause;
	}
	return "unreachable";
}
