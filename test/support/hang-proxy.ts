// A TCP proxy in front of a real server that can be told to stop answering: while `hang` is on,
// bytes from clients are swallowed (on new and on pooled keep-alive connections alike), so a
// request is accepted and never answered — the frozen storage that a refused connection is not.
// `loseNextAnswer` lets the next request through and cuts the connection as its answer comes back:
// the server did the work, the client never hears it (and its SDK retries).
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface HangProxy {
	port: number;
	hang: boolean;
	loseNextAnswer: boolean;
	close(): Promise<void>;
}

export async function startHangProxy(targetPort: number): Promise<HangProxy> {
	const sockets = new Set<Socket>();
	const state = { hang: false, loseNextAnswer: false };
	const server: Server = createServer((client) => {
		const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
		for (const s of [client, upstream]) {
			sockets.add(s);
			s.on("close", () => sockets.delete(s));
			s.on("error", () => {});
		}
		client.on("data", (chunk) => {
			if (!state.hang) upstream.write(chunk);
		});
		upstream.on("data", (chunk) => {
			if (state.loseNextAnswer) {
				state.loseNextAnswer = false;
				client.destroy();
				upstream.destroy();
				return;
			}
			client.write(chunk);
		});
		client.on("close", () => upstream.destroy());
		upstream.on("close", () => client.destroy());
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as import("node:net").AddressInfo;
	return {
		port,
		get hang() {
			return state.hang;
		},
		set hang(value: boolean) {
			state.hang = value;
		},
		get loseNextAnswer() {
			return state.loseNextAnswer;
		},
		set loseNextAnswer(value: boolean) {
			state.loseNextAnswer = value;
		},
		close: () =>
			new Promise<void>((resolve) => {
				for (const s of sockets) s.destroy();
				server.close(() => resolve());
			}),
	};
}
