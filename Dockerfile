# kgql gateway image: Node 24, production dependencies only, runs as a non-root user.
FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The node devDependency is not needed in the image: the base image already is Node 24.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
USER 10001:10001
EXPOSE 4000
# In a pod kgql uses its ServiceAccount (in-cluster config) and listens on all interfaces;
# --auth kubernetes makes each caller's token and RBAC decide what they see.
# --max-semi-space-size=16: see bin/kgql.js.
ENTRYPOINT ["node", "--max-semi-space-size=16", "bin/kgql.js"]
CMD ["--host", "0.0.0.0", "--port", "4000", "--auth", "kubernetes"]
