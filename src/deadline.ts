import { DeadlineError } from "./unavailable.js";

/** Runs `work` but stops waiting after `ms`, rejecting with an error that names `what`. */
export async function withDeadline<T>(ms: number, what: string, work: () => Promise<T>): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	try {
		return await Promise.race([
			work(),
			new Promise<never>((_, reject) => {
				timer = setTimeout(() => reject(new DeadlineError(`${what}: no answer within ${ms} ms`)), ms);
			}),
		]);
	} finally {
		clearTimeout(timer);
	}
}
