import { describe, expect, it } from "vitest";
import { deadlineSignal, withDeadlineSignal } from "../src/util/deadline-signal.js";

describe("deadlineSignal", () => {
	it("aborts with a TimeoutError once the time is up", async () => {
		const { signal } = deadlineSignal(20);
		await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
		expect(signal.aborted).toBe(true);
		expect((signal.reason as DOMException).name).toBe("TimeoutError");
	});

	it("does not abort once cleared", async () => {
		const cleared = deadlineSignal(20);
		cleared.clear();
		// A marker: a second deadline of the same length fires; the cleared one must not have.
		const marker = deadlineSignal(40);
		await new Promise<void>((resolve) =>
			marker.signal.addEventListener("abort", () => resolve(), { once: true }),
		);
		expect(cleared.signal.aborted).toBe(false);
	});

	it("withDeadlineSignal clears the timer whether the call answers or fails", async () => {
		let seen: AbortSignal | undefined;
		await expect(
			withDeadlineSignal(20, async (signal) => {
				seen = signal;
				return 7;
			}),
		).resolves.toBe(7);
		let failed: AbortSignal | undefined;
		await expect(
			withDeadlineSignal(20, async (signal) => {
				failed = signal;
				throw new Error("refused");
			}),
		).rejects.toThrow("refused");
		const marker = deadlineSignal(40);
		await new Promise<void>((resolve) =>
			marker.signal.addEventListener("abort", () => resolve(), { once: true }),
		);
		expect(seen?.aborted).toBe(false);
		expect(failed?.aborted).toBe(false);
	});

	it("aborts a call that does not answer in time", async () => {
		await expect(
			withDeadlineSignal(
				20,
				(signal) =>
					new Promise((_, reject) =>
						signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
					),
			),
		).rejects.toMatchObject({ name: "TimeoutError" });
	});
});
