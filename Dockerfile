# The service's image: docs/deploy-azure.md. test/build/production-build.test.ts checks the rules below and
# runs these same steps (its RUN commands, COPYs and CMD) in a temp copy of the repository.
# Base pinned to an exact Node 22 release; both stages use the same one.

# Stage 1: compile TypeScript to JavaScript (needs the devDependencies: esbuild).
FROM node:22.23.3-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# A file: devDependency that npm ci installs from the repository.
COPY tools/openapi-typescript ./tools/openapi-typescript
RUN --mount=type=cache,target=/root/.npm npm ci
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN npm run build

# Stage 2: what runs: the compiled service and the production dependencies only (no tsx, no TypeScript).
FROM node:22.23.3-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The npm cache is a build-time mount, so it is in no layer.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev
COPY --from=build /app/dist/node ./dist/node
# No appsettings.json: a team that filled in its keys would bake them into a layer. Settings come
# from the environment (TableStorage__ServiceUri, …), as on Container Apps.
# Embedded storage (used only when no TableStorage setting is given) writes here.
RUN mkdir .data && chown node:node .data
# The node user of the base image: the service needs no root.
USER node
# Listen on every interface of the container (the service then requires Auth:Mode Jwt, or says why).
ENV HOST=0.0.0.0 PORT=5080
EXPOSE 5080
# Exec form: node is PID 1 and receives SIGTERM itself (no shell, no npm in between).
CMD ["node", "--enable-source-maps", "dist/node/node.js"]
