import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { SpanKind } from "@opentelemetry/api";
import { requirePermission } from "../auth/http.js";
import { BEARER } from "../auth/openapi.js";
import { mayRead, ownerScope } from "../auth/principal.js";
import { createdEvent, type OrderEvents } from "../domain/events.js";
import { changeMessageId } from "../domain/ids.js";
import { checkTransition, describeIllegal } from "../domain/status.js";
import { validationHook } from "../http/validation.js";
import { inSpan } from "../observability/tracing.js";
import { ProblemError, problem } from "../problem.js";
import type { StatusQueue } from "../queue/port.js";
import type { OrderStore } from "../storage/port.js";
import {
	CreateOrderBody,
	HistoryEntry,
	IdempotencyHeader,
	ListQuery,
	Order,
	OrderIdParam,
	ProblemSchema,
	StatusAccepted,
	UpdateStatusBody,
} from "./schemas.js";

export interface OrderRouteDeps {
	store: OrderStore;
	queue: StatusQueue;
	events: OrderEvents;
}

const json = <T>(schema: T) => ({ "application/json": { schema } });
const problems = (...codes: number[]) =>
	Object.fromEntries(
		codes.map((code) => [
			code,
			{
				description: `Problem details (${code})`,
				content: { "application/problem+json": { schema: ProblemSchema } },
			},
		]),
	);

const createOrder = createRoute({
	method: "post",
	path: "/api/orders/create",
	operationId: "createOrder",
	tags: ["Orders"],
	security: [BEARER],
	summary: "Create an order",
	request: { headers: IdempotencyHeader, body: { required: true, content: json(CreateOrderBody) } },
	responses: {
		201: { description: "Created; Location points at the order", content: json(Order) },
		...problems(400, 401, 403, 413, 415, 422, 503),
	},
});

const listOrders = createRoute({
	method: "get",
	path: "/api/orders",
	operationId: "listOrders",
	tags: ["Orders"],
	security: [BEARER],
	summary: "List orders, a page at a time",
	description:
		"Follow the X-Continuation-Token response header (as continuationToken) for the next page; it is absent on the last page.",
	request: { query: ListQuery },
	responses: {
		200: {
			description: "A page of orders (an empty array when none match)",
			headers: z.object({ "X-Continuation-Token": z.string().optional() }),
			content: json(z.array(Order)),
		},
		...problems(400, 401, 403, 503),
	},
});

const getOrder = createRoute({
	method: "get",
	path: "/api/orders/{orderId}",
	operationId: "getOrder",
	tags: ["Orders"],
	security: [BEARER],
	summary: "Get one order",
	request: { params: OrderIdParam },
	responses: {
		200: { description: "The order", content: json(Order) },
		...problems(400, 401, 403, 404, 503),
	},
});

const getHistory = createRoute({
	method: "get",
	path: "/api/orders/{orderId}/history",
	operationId: "getOrderHistory",
	tags: ["Orders"],
	security: [BEARER],
	summary: "An order's status timeline, oldest first, creation first",
	request: { params: OrderIdParam },
	responses: {
		200: { description: "The timeline", content: json(z.array(HistoryEntry)) },
		...problems(400, 401, 403, 404, 503),
	},
});

const updateStatus = createRoute({
	method: "put",
	path: "/api/orders/update-status/{orderId}",
	operationId: "updateOrderStatus",
	tags: ["Orders"],
	security: [BEARER],
	summary: "Request a status change",
	description:
		"Checks the order, the status and the transition, then puts the change on the status queue. The change is applied and broadcast on /orderHub when the receiver takes it. Asking for the current status again changes nothing (202 without messageId).",
	request: {
		params: OrderIdParam,
		headers: IdempotencyHeader,
		body: { required: true, content: json(UpdateStatusBody) },
	},
	responses: {
		202: { description: "Accepted: queued for the receiver loop", content: json(StatusAccepted) },
		...problems(400, 401, 403, 404, 409, 413, 415, 503),
	},
});

const statusHook = validationHook("status");

const notFound = (orderId: string) => new ProblemError(problem(404, `Order '${orderId}' was not found.`));

/**
 * The orders resource on an app of its own, its routes chained so that its type (OrderRoutes, the
 * app's AppType) describes them to hono/client. Mounted by createApp at "/", behind the app's
 * middleware (CORS, auth, body reading) and error handling.
 */
export function orderRoutes({ store, queue, events }: OrderRouteDeps) {
	return new OpenAPIHono({ defaultHook: validationHook("body") })
		.openapi(createOrder, async (c) => {
			const caller = requirePermission(c, "Orders.Create");
			const input = { ...c.req.valid("json"), ...(caller.id !== undefined ? { ownerId: caller.id } : {}) };
			const key = c.req.valid("header")["idempotency-key"];
			// Keys are the caller's own: another caller's same key is another order.
			const idempotencyKey = key === undefined || caller.id === undefined ? key : `${caller.id}\n${key}`;
			const result = await store.create(input, { idempotencyKey, fingerprint: JSON.stringify(input) });
			if (result.kind === "key-reused") {
				throw new ProblemError(
					problem(
						422,
						"This Idempotency-Key was already used for a different order; use a new key for a new order.",
						{
							errors: { "Idempotency-Key": ["already used with a different request body"] },
						},
					),
				);
			}
			if (result.kind === "created") events.publish(createdEvent(result.order));
			c.header("Location", `/api/orders/${encodeURIComponent(result.order.orderId)}`);
			if (result.kind === "replayed") c.header("Idempotent-Replayed", "true");
			return c.json(result.order, 201);
		})

		.openapi(listOrders, async (c) => {
			const caller = requirePermission(c, "Orders.Read", "Orders.ReadAll");
			const owner = ownerScope(caller);
			const query = { ...c.req.valid("query"), ...(owner !== undefined ? { ownerId: owner } : {}) };
			const page = await store.list(query);
			if (page.continuationToken) c.header("X-Continuation-Token", page.continuationToken);
			return c.json(page.items, 200);
		})

		.openapi(getOrder, async (c) => {
			const caller = requirePermission(c, "Orders.Read", "Orders.ReadAll");
			const { orderId } = c.req.valid("param");
			const order = await store.get(orderId);
			// Someone else's order is not found: an id tells nothing about orders one may not read.
			if (!order || !mayRead(caller, order.ownerId)) throw notFound(orderId);
			return c.json(order, 200);
		})

		.openapi(getHistory, async (c) => {
			const caller = requirePermission(c, "Orders.Read", "Orders.ReadAll");
			const { orderId } = c.req.valid("param");
			if (ownerScope(caller) !== undefined) {
				const order = await store.get(orderId);
				if (!order || !mayRead(caller, order.ownerId)) throw notFound(orderId);
			}
			const history = await store.history(orderId);
			if (!history) throw notFound(orderId);
			return c.json(history, 200);
		})

		.openapi(
			updateStatus,
			async (c) => {
				requirePermission(c, "Orders.UpdateStatus");
				const { orderId } = c.req.valid("param");
				const body = c.req.valid("json");
				const status = typeof body === "string" ? body : body.status;
				const order = await store.get(orderId);
				if (!order) throw notFound(orderId);
				const verdict = checkTransition(order.status, status);
				if (verdict === "illegal") {
					throw new ProblemError(
						problem(409, describeIllegal(order.status, status), {
							currentStatus: order.status,
							requestedStatus: status,
						}),
					);
				}
				if (verdict === "noop") return c.json({ orderId, status }, 202);
				const key = c.req.valid("header")["idempotency-key"];
				const messageId = key === undefined ? crypto.randomUUID() : changeMessageId(orderId, key, status);
				const change = { orderId, status, messageId, occurredAt: new Date().toISOString(), source: "api" };
				// The adapter owns its short, bounded retry; failing that, 503. The send's span is the parent
				// of the receiver's work (its context travels in the message).
				await inSpan(
					`send ${queue.kind}`,
					SpanKind.PRODUCER,
					{
						"messaging.operation.type": "send",
						"messaging.message.id": change.messageId,
						"order.id": change.orderId,
					},
					() => queue.send(change),
				);

				return c.json({ orderId, status, messageId }, 202);
			},
			// The body may be a bare status string: name the field. (A problem response, which the route's
			// typed responses do not list; Hono sends whatever the hook returns.)
			(result) => statusHook(result) as never,
		);
}

/** The orders routes' type: what hono/client and testClient read. */
export type OrderRoutes = ReturnType<typeof orderRoutes>;
