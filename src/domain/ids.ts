// Order ids are UUIDv7 (RFC 9562): unique without coordination, and time-ordered, so a
// listing sorted by id (as Azure Tables sorts keys) is a listing in order of creation.
// Within one process ids are strictly increasing: ids made in the same millisecond use the
// 12-bit rand_a field as a counter (RFC 9562 §6.2, method 1).
import { createHash } from "node:crypto";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
let lastMs = 0;
let counter = 0;

// Random bytes drawn 4 KiB at a time: one getRandomValues call per id was a visible share of a
// create's CPU time (measured, bench/).
const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let poolAt = POOL_SIZE;
function randomBytes(n: number): Uint8Array {
	if (poolAt + n > POOL_SIZE) {
		crypto.getRandomValues(pool);
		poolAt = 0;
	}
	poolAt += n;
	return pool.subarray(poolAt - n, poolAt);
}

export function newOrderId(now = Date.now()): string {
	let ms = now;
	if (ms <= lastMs) {
		ms = lastMs;
		counter++;
		if (counter > 0xfff) {
			ms++;
			counter = 0;
		}
	} else {
		counter = 0;
	}
	lastMs = ms;
	const bytes = new Uint8Array(16);
	bytes.set(randomBytes(10), 6);
	for (let i = 5; i >= 0; i--) {
		bytes[i] = ms % 256;
		ms = Math.floor(ms / 256);
	}
	bytes[6] = 0x70 | (counter >> 8);
	bytes[7] = counter & 0xff;
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
	let hex = "";
	for (const b of bytes) hex += HEX[b];
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// The namespace of change message ids (a random UUID fixed once for this service, RFC 9562 §5.5).
const CHANGE_NAMESPACE = "6f1c3a52-8a0e-4b7e-9d55-0c7f3e2a9b14";
const NAMESPACE_BYTES = Uint8Array.from(CHANGE_NAMESPACE.replaceAll("-", "").match(/../g) ?? [], (h) =>
	Number.parseInt(h, 16),
);

/**
 * The queue message id of a status change requested with an Idempotency-Key: a name-based UUID
 * (version 5, RFC 9562 §5.5) of the order, the status and the key. A key names one change of one
 * order, so the same key on two orders (or for two statuses) gives two ids — the queue's duplicate
 * detection works by message id across all orders — and a retry of one request the same id again.
 */
export function changeMessageId(orderId: string, idempotencyKey: string, status: string): string {
	// node:crypto's hash, not WebCrypto's: this runs once per PUT, and crypto.subtle.digest costs
	// about 45 µs of CPU (it goes through the thread pool) where createHash costs about 3 µs
	// (docs/performance.md). workerd has it too, with nodejs_compat.
	const hash = createHash("sha1")
		.update(NAMESPACE_BYTES)
		.update(`${orderId}\n${status}\n${idempotencyKey}`, "utf8");
	const bytes = hash.digest().subarray(0, 16);
	bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
	let hex = "";
	for (const b of bytes) hex += HEX[b];
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
