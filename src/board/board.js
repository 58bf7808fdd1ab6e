// The reference frontend for /orderHub: plain EventSource, no build step, no dependencies.
const NEXT = {
	Pending: ["Processing", "Shipped", "Delivered", "Cancelled"],
	Processing: ["Shipped", "Delivered", "Cancelled"],
	Shipped: ["Delivered"],
	Delivered: [],
	Cancelled: [],
};
const params = new URLSearchParams(location.search);
// Orders per GET /api/orders request; ?pageSize= (1-1000) to page sooner.
const PAGE_SIZE = Math.min(Math.max(Number.parseInt(params.get("pageSize") ?? "", 10) || 50, 1), 1000);

const $ = (selector) => document.querySelector(selector);
const table = $("#orders");
const tbody = $("#orders tbody");
const empty = $("#empty");
const more = $("#more");
const listError = $("#list-error");
const connection = $("#connection");
const filtersForm = $("#filters");
const dialog = $("#details");

const orders = new Map(); // orderId -> the newest order seen
const rows = new Map(); // orderId -> <tr>, kept in id order (UUIDv7: creation order, as the API lists)
// Statuses are matched in the API's spelling (events use it); the address may have any case.
const statusParam = (params.get("status") ?? "").toLowerCase();
let filter = {
	status: Object.keys(NEXT).find((s) => s.toLowerCase() === statusParam) ?? "",
	customerName: params.get("customerName") ?? "",
};
let nextToken = null; // X-Continuation-Token of the last page read
let pages = 0; // pages read since the list was last cleared
let loaded = false;
let listVersion = 0; // bumped when the list is cleared: answers for an older list are dropped
let events; // the current EventSource

// Auth (when the service runs with Auth:Mode Jwt): a bearer token for the API calls, and a session
// cookie (POST /api/auth/session) for the EventSource, which cannot send headers. The token comes
// from the sign-in form or from the address's #token= fragment (never the query: a fragment is not
// sent to servers or kept in their logs); it stays in this tab's sessionStorage.
const TOKEN_KEY = "order-tracker-token";
let token = sessionStorage.getItem(TOKEN_KEY);
const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromFragment) {
	token = fromFragment;
	sessionStorage.setItem(TOKEN_KEY, token);
	history.replaceState(null, "", location.pathname + location.search);
}
const signin = $("#signin");

/** fetch() with the bearer token when there is one; a 401 asks for a (new) token. */
async function api(path, init = {}) {
	const res = await fetch(path, {
		...init,
		headers: { ...(init.headers ?? {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) },
	});
	if (res.status === 401) askForToken(token ? "The token was refused (expired?): sign in again." : "");
	return res;
}

function askForToken(message) {
	signin.hidden = false;
	showError($("#signin-error"), message);
	setState("reconnecting", "Sign in to see orders");
}

/** Exchanges the token for the stream's session cookie (a 404 means auth is off: nothing to do). */
async function startSession() {
	if (!token) return;
	const res = await api("/api/auth/session", { method: "POST" });
	if (!res.ok && res.status !== 404) throw new Error(`POST /api/auth/session answered ${res.status}`);
}

signin.addEventListener("submit", async (event) => {
	event.preventDefault();
	token = String(new FormData(signin).get("token") ?? "").trim();
	sessionStorage.setItem(TOKEN_KEY, token);
	signin.reset();
	try {
		await startSession();
		if (token) {
			signin.hidden = true;
			startSession().then(connect, (err) => setState("reconnecting", err.message));
		}
	} catch (err) {
		showError($("#signin-error"), err.message);
	}
});
let shown = null; // the orderId in the details dialog

// UUIDv7 ids begin with their creation time, the same for orders made together; the tail is random.
const shortId = (orderId) => orderId.slice(-12);
const filtered = () => Boolean(filter.status || filter.customerName);
const matches = (order) =>
	(!filter.status || order.status === filter.status) &&
	(!filter.customerName || order.customerName === filter.customerName);

function setState(state, text) {
	connection.dataset.state = state;
	connection.textContent = text;
}

function showError(element, text) {
	element.textContent = text;
	element.hidden = !text;
}

function cell(label, text, className) {
	const td = document.createElement("td");
	td.dataset.label = label;
	if (className) td.className = className;
	td.textContent = text;
	return td;
}

function updateListState() {
	const none = loaded && rows.size === 0 && !nextToken;
	table.hidden = rows.size === 0;
	table.setAttribute("aria-busy", String(!loaded));
	empty.textContent = filtered() ? "No orders match these filters." : "No orders yet: create one above.";
	empty.hidden = !none;
	more.hidden = !nextToken;
}

function insertRow(tr, orderId) {
	// New orders sort last; a page of older ones goes before the orders already shown after it.
	let after = tbody.lastElementChild;
	while (after && after.dataset.orderId > orderId) after = after.previousElementSibling;
	if (after) after.after(tr);
	else tbody.prepend(tr);
}

function removeRow(orderId) {
	rows.get(orderId)?.remove();
	rows.delete(orderId);
}

function render(order, { highlight = false } = {}) {
	const known = orders.get(order.orderId);
	if (known && known.updatedAt > order.updatedAt) return; // an older copy (a page read before an event)
	orders.set(order.orderId, order);
	if (shown === order.orderId) showDetails(order.orderId);
	if (!matches(order)) {
		removeRow(order.orderId); // it moved out of the filter
		updateListState();
		return;
	}
	let tr = rows.get(order.orderId);
	if (!tr) {
		tr = document.createElement("tr");
		tr.dataset.orderId = order.orderId;
		const id = cell("Order", "", "id");
		const open = document.createElement("button");
		open.type = "button";
		open.className = "link";
		open.textContent = shortId(order.orderId);
		open.title = order.orderId;
		open.setAttribute("aria-label", `Details of order ${shortId(order.orderId)}`);
		open.addEventListener("click", () => showDetails(order.orderId));
		id.append(open);
		tr.append(
			id,
			cell("Customer", order.customerName),
			cell("Product", order.productName),
			cell("Status", "", "status"),
			cell("Next", "", "next"),
		);
		rows.set(order.orderId, tr);
		insertRow(tr, order.orderId);
	}
	const status = tr.querySelector(".status");
	if (status.textContent !== order.status) {
		status.textContent = order.status;
		if (highlight) {
			status.classList.remove("changed");
			void status.offsetWidth; // restart the animation
			status.classList.add("changed");
		}
	}
	tr.querySelector(".next").replaceChildren(
		...NEXT[order.status].map((s) => {
			const b = document.createElement("button");
			b.type = "button";
			b.className = "secondary";
			b.textContent = s;
			b.setAttribute("aria-label", `Mark order ${shortId(order.orderId)} (${order.customerName}) as ${s}`);
			b.addEventListener("click", () => requestStatus(order.orderId, s, b));
			return b;
		}),
	);
	updateListState();
}

function clearList() {
	listVersion++;
	orders.clear();
	rows.clear();
	tbody.replaceChildren();
	nextToken = null;
	pages = 0;
	loaded = false;
	updateListState();
}

/** Reads the next page (the first after clearList) into the list. */
async function loadPage() {
	const version = listVersion;
	const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
	if (filter.status) query.set("status", filter.status);
	if (filter.customerName) query.set("customerName", filter.customerName);
	if (nextToken) query.set("continuationToken", nextToken);
	const res = await api(`/api/orders?${query}`);
	if (!res.ok) throw new Error(`GET /api/orders answered ${res.status}`);
	const page = await res.json();
	if (version !== listVersion) return; // the list was cleared meanwhile (new filter, reset)
	nextToken = res.headers.get("X-Continuation-Token");
	pages++;
	loaded = true;
	showError(listError, "");
	for (const order of page) render(order);
	updateListState();
}

/** Clears the list and reads as many pages as it showed (at least one). */
async function reload() {
	const count = Math.max(pages, 1);
	clearList();
	const version = listVersion;
	for (let i = 0; i < count && version === listVersion; i++) {
		await loadPage();
		if (!nextToken) break;
	}
}

more.addEventListener("click", async () => {
	more.disabled = true;
	try {
		await loadPage();
	} catch (err) {
		showError(listError, `Could not load more orders: ${err.message}`);
	} finally {
		more.disabled = false;
	}
});

async function requestStatus(orderId, status, button) {
	button.disabled = true;
	const res = await api(`/api/orders/update-status/${encodeURIComponent(orderId)}`, {
		method: "PUT",
		headers: { "content-type": "application/json" },
		body: JSON.stringify(status),
	});
	if (!res.ok) {
		const problem = await res.json().catch(() => ({}));
		alert(problem.detail ?? `The change was refused (${res.status}).`);
		button.disabled = false;
	}
	// On success the row changes when the event arrives on /orderHub.
}

$("#create").addEventListener("submit", async (event) => {
	event.preventDefault();
	const form = event.currentTarget;
	const error = $("#form-error");
	const data = Object.fromEntries(new FormData(form));
	if (!data.partitionKey) delete data.partitionKey;
	const res = await api("/api/orders/create", {
		method: "POST",
		headers: { "content-type": "application/json", "Idempotency-Key": crypto.randomUUID() },
		body: JSON.stringify(data),
	});
	if (res.ok) {
		form.reset();
		showError(error, "");
		render(await res.json());
	} else {
		const problem = await res.json().catch(() => ({}));
		const messages = Object.values(problem.errors ?? {}).flat();
		showError(error, messages.join(" ") || problem.detail || `Error ${res.status}`);
	}
});

// Details: the full id (to copy) and the order's history, refreshed while open when the order changes.
let historyRequest = 0;
async function showDetails(orderId) {
	const order = orders.get(orderId);
	shown = orderId;
	$("#details-title").textContent = `Order ${shortId(orderId)}`;
	$("#details-id").textContent = orderId;
	const facts = [
		["Customer", order?.customerName],
		["Product", order?.productName],
		["Partition", order?.partitionKey],
		["Status", order?.status],
		["Created", order && new Date(order.createdAt).toLocaleString()],
	];
	$("#details-order").replaceChildren(
		...facts.flatMap(([term, value]) => {
			const dt = document.createElement("dt");
			const dd = document.createElement("dd");
			dt.textContent = term;
			dd.textContent = value ?? "";
			return [dt, dd];
		}),
	);
	if (!dialog.open) {
		$("#copy-id").textContent = "Copy id";
		dialog.showModal();
	}
	const list = $("#details-history");
	const request = ++historyRequest;
	list.setAttribute("aria-busy", "true");
	let items;
	try {
		const res = await api(`/api/orders/${encodeURIComponent(orderId)}/history`);
		if (!res.ok) throw new Error(`it answered ${res.status}`);
		items = (await res.json()).map((entry) => {
			const li = document.createElement("li");
			const status = document.createElement("strong");
			const at = document.createElement("time");
			status.textContent = entry.status;
			at.dateTime = entry.at;
			at.textContent = new Date(entry.at).toLocaleString();
			li.append(status, " ", at, entry.source ? ` · ${entry.source}` : "");
			return li;
		});
	} catch (err) {
		const li = document.createElement("li");
		li.textContent = `Could not load the history: ${err.message}`;
		items = [li];
	}
	if (request !== historyRequest || shown !== orderId) return;
	list.replaceChildren(...items);
	list.setAttribute("aria-busy", "false");
}
dialog.addEventListener("close", () => {
	shown = null;
});
$("#copy-id").addEventListener("click", async (event) => {
	const button = event.currentTarget;
	try {
		await navigator.clipboard.writeText($("#details-id").textContent);
		button.textContent = "Copied";
	} catch {
		// No clipboard access (an insecure origin, a denied permission): select it for Ctrl+C.
		getSelection()?.selectAllChildren($("#details-id"));
		button.textContent = "Selected: press Ctrl+C";
	}
});

// Filters: status and customer go to GET /api/orders; the customer also to /orderHub, and events
// are checked against both, so the list stays what the filter would list.
function readFilters() {
	const data = new FormData(filtersForm);
	return {
		status: String(data.get("status") ?? ""),
		customerName: String(data.get("customerName") ?? "").trim(),
	};
}
function applyFilters(next) {
	if (next.status === filter.status && next.customerName === filter.customerName) return;
	filter = next;
	const url = new URLSearchParams(location.search);
	for (const [key, value] of Object.entries(filter)) {
		if (value) url.set(key, value);
		else url.delete(key);
	}
	const query = url.toString();
	history.replaceState(null, "", query ? `?${query}` : location.pathname);
	startSession().then(connect, (err) => setState("reconnecting", err.message));
}
const statusField = filtersForm.elements.namedItem("status");
statusField.value = filter.status;
filtersForm.elements.namedItem("customerName").value = filter.customerName;
filtersForm.addEventListener("submit", (event) => {
	event.preventDefault();
	applyFilters(readFilters());
});
statusField.addEventListener("change", () => applyFilters(readFilters()));
filtersForm.addEventListener("reset", () => applyFilters({ status: "", customerName: "" }));

/** (Re)subscribes with the current filter, then reads the list: a change made meanwhile arrives as an event. */
function connect() {
	events?.close();
	clearList();
	setState("connecting", "Connecting…");
	const hub = filter.customerName
		? `/orderHub?customerName=${encodeURIComponent(filter.customerName)}`
		: "/orderHub";
	// withCredentials: the session cookie goes along (also to another origin the service allows).
	const source = new EventSource(hub, { withCredentials: true });
	events = source;
	let droppedOnce = false;
	source.addEventListener("open", async () => {
		if (loaded) {
			setState("caught-up", "Live · reconnected, missed updates replayed");
			return;
		}
		try {
			await loadPage();
			if (events === source) setState(droppedOnce ? "caught-up" : "live", "Live");
		} catch (err) {
			if (events === source) setState("reconnecting", `Could not load orders: ${err.message}`);
		}
	});
	source.addEventListener("error", () => {
		droppedOnce = true;
		setState("reconnecting", "Reconnecting…");
		// A browser does not retry a refused stream (401: no or an expired session): ask the API why.
		if (source.readyState === EventSource.CLOSED && events === source) {
			api("/api/orders?limit=1").then(
				(res) => {
					if (res.ok && events === source) setTimeout(connect, 2000);
				},
				() => {
					if (events === source) setTimeout(connect, 2000);
				},
			);
		}
	});
	const onEvent = (e) => render(JSON.parse(e.data), { highlight: true });
	source.addEventListener("OrderCreated", onEvent);
	source.addEventListener("ReceiveOrderUpdate", onEvent);
	source.addEventListener("reset", async () => {
		// The server could not replay what we missed (it restarted, or it was too long): refetch.
		try {
			await reload();
			setState("refetched", "Live · list refetched after a server restart");
		} catch (err) {
			setState("reconnecting", `Could not load orders: ${err.message}`);
		}
	});
}

startSession().then(connect, (err) => setState("reconnecting", err.message));
