// RFC 9457 problem details, in the shape ASP.NET Core clients already parse
// (type, title, status, detail, and `errors: { field: [messages] }` for validation).

export interface Problem {
	type: string;
	title: string;
	status: number;
	detail: string;
	errors?: Record<string, string[]>;
	[extension: string]: unknown;
}

const TITLES: Record<number, string> = {
	400: "Bad Request",
	404: "Not Found",
	409: "Conflict",
	413: "Content Too Large",
	415: "Unsupported Media Type",
	422: "Unprocessable Content",
	500: "Internal Server Error",
	503: "Service Unavailable",
};

export function problem(status: number, detail: string, extra: Partial<Problem> = {}): Problem {
	return {
		type: `https://httpstatuses.io/${status}`,
		title: TITLES[status] ?? "Error",
		status,
		detail,
		...extra,
	};
}

export function validationProblem(
	errors: Record<string, string[]>,
	detail = "One or more validation errors occurred.",
): Problem {
	return problem(400, detail, {
		title: "One or more validation errors occurred.",
		errors,
	});
}

export function problemResponse(p: Problem, headers: Record<string, string> = {}): Response {
	return new Response(JSON.stringify(p), {
		status: p.status,
		headers: { "content-type": "application/problem+json", ...headers },
	});
}

/** Thrown anywhere below the routes to answer with a problem; the app's error handler renders it. */
export class ProblemError extends Error {
	constructor(
		readonly problem: Problem,
		readonly headers: Record<string, string> = {},
	) {
		super(problem.detail);
		this.name = "ProblemError";
	}
}
