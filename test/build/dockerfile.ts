// The repository's Dockerfile read with dockerfile-ast (images cannot be built on these machines):
// its stages, and each stage's steps in order, for test/build/*.test.ts to check and to run.
import { readFileSync } from "node:fs";
import { DockerfileParser } from "dockerfile-ast";

export type Step =
	| { kind: "WORKDIR"; path: string }
	| { kind: "COPY"; from?: string; sources: string[]; destination: string; chown?: string }
	| { kind: "RUN"; command: string; flags: string[] }
	| { kind: "ENV"; values: Record<string, string> }
	| { kind: "ARG"; name: string }
	| { kind: "USER"; user: string }
	| { kind: "CMD"; exec: string[] | undefined; text: string }
	| { kind: "ENTRYPOINT"; text: string }
	| { kind: "OTHER"; keyword: string; text: string };

export interface Stage {
	image: string;
	name: string | undefined;
	steps: Step[];
}

export function readDockerfile(path: string): Stage[] {
	const file = DockerfileParser.parse(readFileSync(path, "utf8"));
	const stages: Stage[] = [];
	for (const instruction of file.getInstructions()) {
		const keyword = instruction.getKeyword();
		const args = instruction.getArguments().map((a) => a.getValue());
		const text = instruction.getArgumentsContent() ?? "";
		if (keyword === "FROM") {
			const from = instruction as unknown as { getImage(): string; getBuildStage(): string | null };
			stages.push({ image: from.getImage(), name: from.getBuildStage() ?? undefined, steps: [] });
			continue;
		}
		const stage = stages.at(-1);
		if (!stage) throw new Error(`${keyword} before the first FROM`);
		const flags =
			(instruction as unknown as { getFlags?(): { getName(): string; getValue(): string | null }[] })
				.getFlags?.()
				.map((f) => [f.getName(), f.getValue() ?? ""] as const) ?? [];
		const flag = (name: string) => flags.find(([n]) => n === name)?.[1];
		switch (keyword) {
			case "WORKDIR":
				stage.steps.push({ kind: "WORKDIR", path: text });
				break;
			case "COPY": {
				const from = flag("from");
				const chown = flag("chown");
				stage.steps.push({
					kind: "COPY",
					...(from ? { from } : {}),
					...(chown ? { chown } : {}),
					sources: args.slice(0, -1),
					destination: args.at(-1) as string,
				});
				break;
			}
			case "RUN":
				stage.steps.push({ kind: "RUN", command: text, flags: flags.map(([n, v]) => `${n}=${v}`) });
				break;
			case "ENV": {
				const env = instruction as unknown as {
					getProperties(): { getName(): string; getValue(): string }[];
				};
				stage.steps.push({
					kind: "ENV",
					values: Object.fromEntries(env.getProperties().map((p) => [p.getName(), p.getValue()])),
				});
				break;
			}
			case "ARG":
				stage.steps.push({ kind: "ARG", name: (args[0] ?? "").split("=")[0] as string });
				break;
			case "USER":
				stage.steps.push({ kind: "USER", user: text });
				break;
			case "CMD": {
				const cmd = instruction as unknown as { getJSONStrings(): { getJSONValue(): string }[] };
				const exec = text.trim().startsWith("[")
					? cmd.getJSONStrings().map((s) => s.getJSONValue())
					: undefined;
				stage.steps.push({ kind: "CMD", exec, text });
				break;
			}
			case "ENTRYPOINT":
				stage.steps.push({ kind: "ENTRYPOINT", text });
				break;
			default:
				stage.steps.push({ kind: "OTHER", keyword, text });
		}
	}
	return stages;
}
