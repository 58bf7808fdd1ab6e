// The reference frontend for /orderHub: plain EventSource, no build step, no dependencies.
const NEXT = {
	Pending: ["Processing", "Shipped", "Delivered", "Cancelled"],
	Processing: ["Shipped", "Delivered", "Cancelled"],
	Shipped: ["Delivered"],
	Delivered: [],
	Cancelled: [],
};
const rows = new Map(); // orderId -> <tr>
const tbody = document.querySelector("#orders tbody");
const empty = document.querySelector("#empty");
const connection = document.querySelector("#connection");

function setState(state, text) {
	connection.dataset.state = state;
	connection.textContent = text;
}

function cell(label, text, className) {
	const td = document.createElement("td");
	td.dataset.label = label;
	if (className) td.className = className;
	td.textContent = text;
	return td;
}

function render(order, { highlight = false, prepend = false } = {}) {
	let tr = rows.get(order.orderId);
	if (!tr) {
		tr = document.createElement("tr");
		tr.dataset.orderId = order.orderId;
		tr.append(
			cell("Order", order.orderId.slice(0, 8), "id"),
			cell("Customer", order.customerName),
			cell("Product", order.productName),
			cell("Status", "", "status"),
			cell("Next", "", "next"),
		);
		tr.firstChild.title = order.orderId;
		rows.set(order.orderId, tr);
		if (prepend) tbody.prepend(tr);
		else tbody.append(tr);
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
	const next = tr.querySelector(".next");
	next.replaceChildren(
		...NEXT[order.status].map((s) => {
			const b = document.createElement("button");
			b.type = "button";
			b.className = "secondary";
			b.textContent = s;
			b.setAttribute("aria-label", `Mark order ${order.orderId.slice(0, 8)} (${order.customerName}) as ${s}`);
			b.addEventListener("click", () => requestStatus(order.orderId, s, b));
			return b;
		}),
	);
	empty.hidden = rows.size > 0;
}

async function loadAll() {
	rows.clear();
	tbody.replaceChildren();
	let url = "/api/orders?limit=1000";
	const all = [];
	for (let page = 0; page < 5 && url; page++) {
		const res = await fetch(url);
		if (!res.ok) throw new Error(`GET /api/orders answered ${res.status}`);
		all.push(...(await res.json()));
		const token = res.headers.get("X-Continuation-Token");
		url = token ? `/api/orders?limit=1000&continuationToken=${encodeURIComponent(token)}` : "";
	}
	for (const order of all.reverse()) render(order); // newest first
	empty.hidden = rows.size > 0;
}

async function requestStatus(orderId, status, button) {
	button.disabled = true;
	const res = await fetch(`/api/orders/update-status/${encodeURIComponent(orderId)}`, {
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

document.querySelector("#create").addEventListener("submit", async (event) => {
	event.preventDefault();
	const form = event.currentTarget;
	const error = document.querySelector("#form-error");
	const data = Object.fromEntries(new FormData(form));
	if (!data.partitionKey) delete data.partitionKey;
	const res = await fetch("/api/orders/create", {
		method: "POST",
		headers: { "content-type": "application/json", "Idempotency-Key": crypto.randomUUID() },
		body: JSON.stringify(data),
	});
	if (res.ok) {
		form.reset();
		error.hidden = true;
		render(await res.json(), { prepend: true });
	} else {
		const problem = await res.json().catch(() => ({}));
		error.textContent =
			Object.values(problem.errors ?? {})
				.flat()
				.join(" ") ||
			problem.detail ||
			`Error ${res.status}`;
		error.hidden = false;
	}
});

function connect() {
	let droppedOnce = false;
	const events = new EventSource("/orderHub");
	events.addEventListener("open", () => {
		if (droppedOnce) setState("caught-up", "Live · reconnected, missed updates replayed");
		else setState("live", "Live");
	});
	events.addEventListener("error", () => {
		droppedOnce = true;
		setState("reconnecting", "Reconnecting…");
	});
	events.addEventListener("OrderCreated", (e) =>
		render(JSON.parse(e.data), { prepend: true, highlight: true }),
	);
	events.addEventListener("ReceiveOrderUpdate", (e) => render(JSON.parse(e.data), { highlight: true }));
	events.addEventListener("reset", async () => {
		// The server could not replay what we missed (it restarted, or it was too long): refetch.
		await loadAll();
		setState("refetched", "Live · list refetched after a server restart");
	});
}

await loadAll().catch((err) => setState("reconnecting", `Could not load orders: ${err.message}`));
connect();
