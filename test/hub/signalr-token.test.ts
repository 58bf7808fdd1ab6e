// SignalR connection tokens (src/hub/signalr-token.ts): signed under the secret instances share,
// which is read again now and then, so instances agree on a new one (the event log's table made
// anew) without a restart, and a storage outage meanwhile does not refuse the tokens there are.
import { expect, it, vi } from "vitest";
import { ConnectionTokens, SECRET_REREAD_MS } from "../../src/hub/signalr-token.js";

const claims = (connectionId: string) => ({ connectionId, issuedAt: 1 });

function tokensWith(secret: { value: string | Error }) {
	let reads = 0;
	const clock = { now: 0 };
	const tokens = new ConnectionTokens(
		async () => {
			reads++;
			if (secret.value instanceof Error) throw secret.value;
			return secret.value;
		},
		() => clock.now,
	);
	return { tokens, clock, reads: () => reads };
}

it("takes a new shared secret within SECRET_REREAD_MS: tokens of the old one are refused after", async () => {
	const secret = { value: "first secret" as string | Error };
	const { tokens, clock, reads } = tokensWith(secret);
	const old = (await tokens.issue(claims("a"))) as string;
	expect(await tokens.verify(old)).toMatchObject({ connectionId: "a" });

	secret.value = "second secret"; // the table was made anew: another instance wrote a new secret
	clock.now = SECRET_REREAD_MS - 1;
	expect(await tokens.verify(old)).toMatchObject({ connectionId: "a" }); // not read again yet
	expect(reads()).toBe(1);

	clock.now = SECRET_REREAD_MS;
	// Read again in the background: this request still goes on with the key there is …
	expect(await tokens.verify(old)).toMatchObject({ connectionId: "a" });
	// … and the next ones use the new secret.
	await vi.waitFor(async () => expect(await tokens.verify(old)).toBeUndefined());
	const fresh = (await tokens.issue(claims("b"))) as string;
	expect(await tokens.verify(fresh)).toMatchObject({ connectionId: "b" });
	expect(reads()).toBe(2);
});

it("keeps the secret it has while storage cannot be read, and tries again at the next period", async () => {
	const secret = { value: "the secret" as string | Error };
	const { tokens, clock, reads } = tokensWith(secret);
	const token = (await tokens.issue(claims("a"))) as string;

	secret.value = new Error("storage unreachable");
	clock.now = SECRET_REREAD_MS;
	expect(await tokens.verify(token)).toMatchObject({ connectionId: "a" });
	expect(reads()).toBe(2);
	await new Promise((r) => setTimeout(r, 10)); // the failed read is over
	clock.now = SECRET_REREAD_MS + 1;
	expect(await tokens.verify(token)).toMatchObject({ connectionId: "a" });
	expect(reads()).toBe(2); // not every request: once a period
	clock.now = 2 * SECRET_REREAD_MS;
	expect(await tokens.verify(token)).toMatchObject({ connectionId: "a" });
	expect(reads()).toBe(3);
});

it("without any secret yet, tries again on the next request", async () => {
	const secret = { value: new Error("storage unreachable") as string | Error };
	const { tokens, reads } = tokensWith(secret);
	await expect(tokens.issue(claims("a"))).rejects.toThrow("storage unreachable");
	secret.value = "the secret";
	const token = (await tokens.issue(claims("a"))) as string;
	expect(await tokens.verify(token)).toMatchObject({ connectionId: "a" });
	expect(reads()).toBe(2);
});
