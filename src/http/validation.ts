// Validation failures as ASP.NET Core clients know them: 400 problem+json with
// `errors: { field: [messages] }`, the field named by the issue's path.
import type { ZodError } from "zod";
import { problemResponse, validationProblem } from "../problem.js";

/** zod issues -> ASP.NET-style `errors: { field: [messages] }`. */
export function issuesToErrors(error: ZodError, fallbackField: string): Record<string, string[]> {
	const errors: Record<string, string[]> = {};
	const add = (field: string, message: string) => {
		const list = errors[field] ?? [];
		if (!list.includes(message)) list.push(message);
		errors[field] = list;
	};
	const walk = (issues: ZodError["issues"], prefix: (string | number | symbol)[]) => {
		for (const issue of issues) {
			const path = [...prefix, ...issue.path];
			if (issue.code === "invalid_union") {
				// Report the branch that got furthest: a custom check, else the deepest path.
				const depth = (b: ZodError["issues"]) =>
					Math.max(0, ...b.map((i) => i.path.length + (i.code === "custom" ? 10 : 0)));
				const branches = issue.errors as ZodError["issues"][];
				const best = [...branches].sort((a, b) => depth(b) - depth(a))[0] ?? [];
				walk(best, path);
				continue;
			}
			add(path.length ? path.map(String).join(".") : fallbackField, issue.message);
		}
	};
	walk(error.issues, []);
	return errors;
}

/**
 * The hook that answers a failed validation. An issue without a path (the whole body is a bare
 * string, as PUT update-status takes it) is reported under `bodyField`.
 */
export function validationHook(bodyField: string) {
	return (result: { success: boolean; error?: unknown; target?: string }): Response | undefined => {
		if (result.success) return undefined;
		const fallback = result.target === "json" ? bodyField : (result.target ?? "request");
		return problemResponse(validationProblem(issuesToErrors(result.error as ZodError, fallback)));
	};
}
