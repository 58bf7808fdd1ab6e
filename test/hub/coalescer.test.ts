// The hub's Nagle for SSE (src/hub/coalescer.ts) and its window, which grows with the subscribers.
import { expect, it, vi } from "vitest";
import { Coalescer } from "../../src/hub/coalescer.js";
import { coalesceWindowMs, DEFAULT_COALESCE_MS, FULL_WINDOW_SUBSCRIBERS } from "../../src/hub/hub.js";

it("flushes an item at once when idle, and holds the next ones until the window ends", async () => {
	const flushes: string[][] = [];
	const c = new Coalescer<string>(
		() => 50,
		(batch) => flushes.push(batch),
	);
	c.push("a");
	expect(flushes).toEqual([["a"]]);
	c.push("b");
	c.push("c");
	expect(flushes).toEqual([["a"]]);
	expect(c.scheduled).toBe(true);
	await vi.waitFor(() => expect(flushes).toEqual([["a"], ["b", "c"]]), { timeout: 5000, interval: 5 });
});

it("with a window of 0 flushes every item at once", () => {
	const flushes: string[][] = [];
	const c = new Coalescer<string>(
		() => 0,
		(batch) => flushes.push(batch),
	);
	for (const item of ["a", "b", "c"]) c.push(item);
	expect(flushes).toEqual([["a"], ["b"], ["c"]]);
	expect(c.scheduled).toBe(false);
});

it("reads the window when a push finds no flush scheduled", () => {
	let window = 10_000;
	const flushes: string[][] = [];
	const c = new Coalescer<string>(
		() => window,
		(batch) => flushes.push(batch),
	);
	c.push("a");
	window = 0; // e.g. the subscribers went away: nothing is held any more
	c.push("b");
	expect(flushes).toEqual([["a"], ["b"]]);
});

it("holds events for the whole Hub:CoalesceMs only with many subscribers", () => {
	expect(coalesceWindowMs(50, 0)).toBe(0);
	expect(coalesceWindowMs(50, 10)).toBeCloseTo(50 * (10 / FULL_WINDOW_SUBSCRIBERS));
	// The default holds events as long as before the window grew past 200 subscribers (25 ms).
	expect(coalesceWindowMs(DEFAULT_COALESCE_MS, 10)).toBeCloseTo(1.25);
	expect(coalesceWindowMs(DEFAULT_COALESCE_MS, 200)).toBeCloseTo(25);
	expect(coalesceWindowMs(50, FULL_WINDOW_SUBSCRIBERS)).toBe(50);
	expect(coalesceWindowMs(50, 15_000)).toBe(50);
	expect(coalesceWindowMs(0, 15_000)).toBe(0);
});
