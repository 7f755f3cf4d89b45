# kgql gateway image: Node 24, production dependencies only, runs as a non-root user.

# The topology page (/ui) is built with the devDependencies (esbuild and the page's libraries),
# in a stage of its own: the image gets the built files, not the build tools.
FROM node:24-slim AS ui
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY src/ui ./src/ui
# npm ci runs the prepare script (scripts/build-ui.ts), which writes dist/ui.
RUN npm ci --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The node devDependency is not needed in the image: the base image already is Node 24.
# --ignore-scripts: the page's build (prepare) ran in the stage above.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY --from=ui /app/dist/ui ./dist/ui
USER 10001:10001
EXPOSE 4000
# In a pod kgql uses its ServiceAccount (in-cluster config) and listens on all interfaces;
# --auth kubernetes makes each caller's token and RBAC decide what they see.
# --max-semi-space-size=16: see bin/kgql.js.
ENTRYPOINT ["node", "--max-semi-space-size=16", "bin/kgql.js"]
CMD ["--host", "0.0.0.0", "--port", "4000", "--auth", "kubernetes"]
