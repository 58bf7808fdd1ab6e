// Azure Tables refuses these in PartitionKey/RowKey with a useless "InvalidInput" 400:
// `/ \ # ?`, U+0000–001F and U+007F–009F, and keys over 1 KiB (we cap at 512 characters,
// see docs/facts.md). We check before a request reaches Azure and name the problem.

export const MAX_KEY_LENGTH = 512;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters Azure refuses
const FORBIDDEN = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

/** Returns a human explanation of why the value cannot be a table key, or undefined if it can. */
export function keyProblem(value: string): string | undefined {
	if (value.length === 0) return "must not be empty";
	if (value.length > MAX_KEY_LENGTH) return `must be at most ${MAX_KEY_LENGTH} characters`;
	const bad = FORBIDDEN.exec(value);
	if (bad) {
		const ch = bad[0];
		const shown =
			ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) >= 0x7f
				? `U+${ch.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}`
				: `'${ch}'`;
		return `must not contain ${shown} (Azure Table keys cannot contain / \\ # ? or control characters)`;
	}
	return undefined;
}
