/**
 * An entity group transaction (`$batch`) sent through a TableClient's own pipeline, without the
 * SDK's `submitTransaction`.
 *
 * Why: the SDK builds a new TableClient (and its whole pipeline) for every transaction and runs each
 * action through a pipeline of its own to serialise it; a status change makes about 2.5
 * transactions. Built here, one transaction of three creates costs about half the CPU
 * (docs/performance.md, "Storage transactions"). The request goes through `client.pipeline`, so
 * authentication (key, SAS, token), retries, the deadline signal and our own policies apply as to
 * every other call. The body is the one the SDK sends (docs/facts.md, "A batch is one POST"), and
 * errors are the SDK's: a `RestError` with the failing action's status and OData code.
 *
 * Entities hold strings, numbers and booleans only (what this service stores); anything else is
 * refused before sending rather than stored differently from the SDK.
 */
import { randomUUID } from "node:crypto";
import {
	createDefaultHttpClient,
	createHttpHeaders,
	createPipelineRequest,
	type HttpClient,
	type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { RestError, type TableClient, type TransactionAction } from "@azure/data-tables";

export interface TransactionResult {
	status: number;
	/** One per action, in the order of the actions. */
	subResponses: { status: number; etag?: string }[];
}

const CRLF = "\r\n";
let httpClient: HttpClient | undefined;

export async function submitTransaction(
	client: TableClient,
	actions: readonly TransactionAction[],
	options: { abortSignal?: AbortSignal } = {},
): Promise<TransactionResult> {
	const first = actions[0];
	if (!first) throw new TypeError("a transaction needs at least one action");
	const partitionKey = first[1].partitionKey;
	// A SAS rides on the client's URL: the batch request carries it, the sub-requests do not.
	const [base = "", sas] = client.url.replace(/\/+(?=\?|$)/, "").split("?");
	const table = `${base}/${client.tableName}`;
	const batch = `batch_${randomUUID()}`;
	const changeset = `changeset_${randomUUID()}`;
	const parts = [`--${batch}${CRLF}content-type: multipart/mixed; boundary=${changeset}${CRLF}${CRLF}`];
	for (const action of actions) {
		if (action[1].partitionKey !== partitionKey)
			throw new TypeError("All operations in a transaction must target the same partitionKey");
		parts.push(subRequest(changeset, table, action));
	}
	const body = `${parts.join(CRLF)}${CRLF}--${changeset}--${CRLF}--${batch}--${CRLF}`;
	const request = createPipelineRequest({
		url: `${base}/$batch${sas === undefined ? "" : `?${sas}`}`,
		method: "POST",
		body,
		headers: createHttpHeaders({
			accept: "application/json",
			"x-ms-version": "2019-02-02",
			DataServiceVersion: "3.0;",
			MaxDataServiceVersion: "3.0;NetFx",
			"Content-Type": `multipart/mixed; boundary=${batch}`,
			"Accept-Charset": "UTF-8",
		}),
		abortSignal: options.abortSignal,
		allowInsecureConnection: allowsInsecureConnection(client),
	});
	httpClient ??= createDefaultHttpClient();
	const response = await client.pipeline.sendRequest(httpClient, request);
	return parseResponse(response);
}

/**
 * The client's own `allowInsecureConnection` option (plain HTTP, Azurite): the SDK keeps it on the
 * client and hands it to its own transactions the same way; the HTTP client refuses `http://`
 * without it, and a token is never sent over plain HTTP unless the client was built to allow it.
 */
function allowsInsecureConnection(client: TableClient): boolean {
	return (client as unknown as { allowInsecureConnection?: unknown }).allowInsecureConnection === true;
}

function subRequest(changeset: string, table: string, action: TransactionAction): string {
	const [kind, entity] = action;
	const lines = [
		`--${changeset}${CRLF}content-type: application/http${CRLF}content-transfer-encoding: binary`,
		"",
	];
	const row = `${table}(PartitionKey='${key(entity.partitionKey)}',RowKey='${key(entity.rowKey)}')`;
	switch (kind) {
		case "create":
			lines.push(
				`POST ${table} HTTP/1.1`,
				"Content-Type: application/json;odata=nometadata",
				"Accept: application/json;odata=minimalmetadata",
				"DataServiceVersion: 3.0",
				"Prefer: return-no-content",
				CRLF,
				serialize(entity),
			);
			break;
		case "update":
		case "upsert": {
			const mode = action[2] ?? "Merge";
			lines.push(
				`${mode === "Replace" ? "PUT" : "PATCH"} ${row} HTTP/1.1`,
				"Content-Type: application/json",
				"DataServiceVersion: 3.0",
				"Accept: application/json",
			);
			// An update is conditional (on the given ETag, or on the row existing); an upsert is not.
			if (kind === "update") lines.push(`If-Match: ${action[3]?.etag ?? "*"}`);
			lines.push(CRLF, serialize(entity));
			break;
		}
		case "delete":
			lines.push(
				`DELETE ${row} HTTP/1.1`,
				"Accept: application/json;odata=minimalmetadata",
				"DataServiceVersion: 3.0",
				"If-Match: *",
				CRLF,
			);
			break;
		default:
			throw new TypeError(`unknown transaction action ${String(kind)}`);
	}
	return lines.join(CRLF);
}

/** A key in an entity's address: quotes doubled (OData), then percent-encoded, as the SDK does. */
function key(value: string): string {
	return encodeURIComponent(value.replaceAll("'", "''"));
}

function serialize(entity: Record<string, unknown>): string {
	const out: Record<string, unknown> = {};
	for (const [name, value] of Object.entries(entity)) {
		if (value === undefined) continue;
		if (
			value !== null &&
			typeof value !== "string" &&
			typeof value !== "number" &&
			typeof value !== "boolean"
		)
			throw new TypeError(`property ${name}: only strings, numbers and booleans are written in transactions`);
		out[name === "partitionKey" ? "PartitionKey" : name === "rowKey" ? "RowKey" : name] = value;
	}
	return JSON.stringify(out);
}

/**
 * The answer: 202 with one sub-response per action, or (when an action failed) the failing action's
 * sub-response alone, its OData error naming the action's index ("1:The specified resource…").
 */
function parseResponse(response: PipelineResponse): TransactionResult {
	const text = response.bodyAsText ?? "";
	if (response.status < 200 || response.status >= 300) throw restError(text, response.status, response);
	const subResponses = text
		.split("--changesetresponse_")
		.slice(1, -1)
		.map((part) => {
			const status = Number(/HTTP\/1\.1 (\d{3})/.exec(part)?.[1]);
			if (!Number.isInteger(status)) throw restError(part, response.status, response);
			const bodyStart = part.indexOf("{");
			if (status >= 300 || bodyStart >= 0)
				throw restError(
					bodyStart >= 0 ? part.slice(bodyStart, part.lastIndexOf("}") + 1) : "",
					status,
					response,
				);
			const etag = /^ETag: (.*)$/m.exec(part)?.[1]?.trim();
			return etag ? { status, etag } : { status };
		});
	return { status: response.status, subResponses };
}

function restError(body: string, statusCode: number, response: PipelineResponse): RestError {
	let message = `Transaction failed with ${statusCode}`;
	let code: string | undefined;
	try {
		const error = (JSON.parse(body) as { "odata.error"?: { code?: string; message?: { value?: string } } })[
			"odata.error"
		];
		message = error?.message?.value ?? message;
		code = error?.code || undefined;
	} catch {
		// Not JSON: the status says it.
	}
	return new RestError(message, { code, statusCode, request: response.request, response });
}
