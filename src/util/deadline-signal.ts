// An abort signal for one call that fires after `ms`, and whose timer is dropped once the call has
// answered. `AbortSignal.timeout` cannot be cancelled: its timer fires for every call, answered or
// not, and each firing builds a DOMException with a stack. With several storage calls per status
// change that was about 2.5% of the service's CPU at 100 changes/s (docs/performance.md).
export interface DeadlineSignal {
	readonly signal: AbortSignal;
	/** The call has answered: the timer goes. */
	clear(): void;
}

export function deadlineSignal(ms: number): DeadlineSignal {
	const controller = new AbortController();
	const timer = setTimeout(
		() => controller.abort(new DOMException("The operation timed out.", "TimeoutError")),
		ms,
	);
	// A deadline never keeps a stopping process alive by itself.
	(timer as { unref?: () => void }).unref?.();
	return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/** Runs `fn` with a deadline signal, clearing its timer whatever the outcome. */
export async function withDeadlineSignal<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
	const deadline = deadlineSignal(ms);
	try {
		return await fn(deadline.signal);
	} finally {
		deadline.clear();
	}
}
