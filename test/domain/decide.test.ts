import { describe, expect, it } from "vitest";
import { decide } from "../../src/domain/decide.js";

describe("decide", () => {
	it("says duplicate for a message applied before, whatever the order's status now", () => {
		expect(decide("Processing", "Processing", true)).toEqual({ kind: "duplicate" });
		expect(decide("Delivered", "Processing", true)).toEqual({ kind: "duplicate" });
	});
	it("applies a legal move, ignores the same status, rejects an illegal move with the reason", () => {
		expect(decide("Pending", "Shipped", false)).toEqual({ kind: "apply" });
		expect(decide("Shipped", "Shipped", false)).toEqual({ kind: "noop" });
		expect(decide("Shipped", "Cancelled", false)).toEqual({
			kind: "reject",
			reason: "An order that is Shipped can no longer be cancelled.",
		});
		expect(decide("Delivered", "Pending", false)).toMatchObject({ kind: "reject" });
	});
});
