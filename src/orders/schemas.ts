// Request and response schemas: validation and the OpenAPI document come from the same source.
import { z } from "@hono/zod-openapi";
import { keyProblem } from "../domain/keys.js";
import { DEFAULT_PARTITION_KEY } from "../domain/order.js";
import { ORDER_STATUSES, parseStatus } from "../domain/status.js";

/** A value that must be usable as an Azure Table key (checked before it reaches Azure). */
export const tableKey = (what: string) =>
	z.string({ error: `${what} must be a string` }).superRefine((v, ctx) => {
		const p = keyProblem(v);
		if (p) ctx.addIssue({ code: "custom", message: `${what} ${p}` });
	});

/** Status names match case-insensitively and come out in their canonical spelling. */
const required = (field: string, kind = "a string") =>
	z.string({
		error: (iss) => (iss.input === undefined ? `${field} is required` : `${field} must be ${kind}`),
	});

export const StatusInput = required("status", "a status name")
	.transform((v, ctx) => {
		const s = parseStatus(v);
		if (!s) {
			ctx.addIssue({
				code: "custom",
				message: `Unknown status '${v}'. Expected one of: ${ORDER_STATUSES.join(", ")}.`,
			});
			return z.NEVER;
		}
		return s;
	})
	.openapi({ type: "string", enum: [...ORDER_STATUSES], example: "Shipped" });

export const OrderIdParam = z.object({
	orderId: tableKey("orderId").openapi({
		param: { name: "orderId", in: "path" },
		example: "019ab8a4-5e2c-7cc1-9b1e-2f1f3c4d5e6f",
	}),
});

export const CreateOrderBody = z
	.object({
		partitionKey: tableKey("partitionKey").default(DEFAULT_PARTITION_KEY).openapi({ example: "Orders" }),
		customerName: required("customerName")
			.trim()
			.min(1, "customerName is required")
			.max(256)
			.openapi({ example: "Ada Lovelace" }),
		productName: required("productName")
			.trim()
			.min(1, "productName is required")
			.max(256)
			.openapi({ example: "Analytical Engine" }),
		status: z
			.unknown()
			.optional()
			.superRefine((v, ctx) => {
				if (v !== undefined && parseStatus(v) !== "Pending") {
					ctx.addIssue({
						code: "custom",
						message: `Orders start Pending; a new order cannot have status ${String(JSON.stringify(v)).slice(0, 60)}.`,
					});
				}
			})
			.openapi({
				type: "string",
				enum: ["Pending"],
				description: "Optional; orders always start Pending (any case), anything else is a 400",
			}),
	})
	.transform(({ status: _pending, ...order }) => order)
	.openapi("CreateOrder", {
		description: "Property names match in any case: the original's PascalCase bodies (CustomerName) work.",
	});

export const UpdateStatusBody = z
	.union([StatusInput, z.object({ status: StatusInput })])
	.openapi("UpdateStatus", {
		description: 'A JSON string ("Shipped") as the original took, or {"status":"Shipped"}.',
	});

export const Order = z
	.object({
		orderId: z.string(),
		partitionKey: z.string(),
		customerName: z.string(),
		productName: z.string(),
		status: z.enum(ORDER_STATUSES),
		createdAt: z.string().openapi({ format: "date-time" }),
		updatedAt: z.string().openapi({ format: "date-time" }),
		ownerId: z.string().optional().openapi({ description: "Who created it (with Auth:Mode Jwt)" }),
	})
	.openapi("Order");

export const HistoryEntry = z
	.object({
		status: z.enum(ORDER_STATUSES),
		at: z.string().openapi({ format: "date-time" }),
		messageId: z.string().optional(),
		source: z.string().optional(),
	})
	.openapi("HistoryEntry");

export const StatusAccepted = z
	.object({ orderId: z.string(), status: z.enum(ORDER_STATUSES), messageId: z.string().optional() })
	.openapi("StatusAccepted");

/** Query filters shared by GET /api/orders and GET /orderHub. */
export const PartitionKeyFilter = tableKey("partitionKey")
	.optional()
	.openapi({ param: { name: "partitionKey", in: "query" } });
export const CustomerNameFilter = z
	.string()
	.min(1)
	.max(256)
	.optional()
	.openapi({ param: { name: "customerName", in: "query" } });

export const ListQuery = z.object({
	limit: z.coerce
		.number({ error: "limit must be a whole number from 1 to 1000" })
		.int("limit must be a whole number from 1 to 1000")
		.min(1, "limit must be at least 1")
		.max(1000, "limit must be at most 1000")
		.default(100)
		.openapi({ param: { name: "limit", in: "query" }, example: 100 }),
	continuationToken: z
		.string()
		.min(1)
		.optional()
		.openapi({
			param: { name: "continuationToken", in: "query" },
			description: "From the previous page's X-Continuation-Token header",
		}),
	status: StatusInput.optional().openapi({ param: { name: "status", in: "query" } }),
	partitionKey: PartitionKeyFilter,
	customerName: CustomerNameFilter,
});

export const IdempotencyHeader = z.object({
	"idempotency-key": z
		.string()
		.min(1)
		.max(200, "Idempotency-Key must be at most 200 characters")
		.regex(/^[\x21-\x7e]+$/, "Idempotency-Key must be printable ASCII without spaces")
		.optional()
		.openapi({ description: "A retry with the same key creates or sends nothing twice" }),
});

export const ProblemSchema = z
	.object({
		type: z.string(),
		title: z.string(),
		status: z.number().int(),
		detail: z.string(),
		errors: z.record(z.string(), z.array(z.string())).optional(),
	})
	.openapi("ProblemDetails");
