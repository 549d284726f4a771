# The image that the docker-compose.yml of `cloister deploy` runs:
#     docker build -t cloister/node:latest .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p cloister-node --bin cloister-node

FROM debian:bookworm-slim
RUN useradd --uid 1000 --user-group --no-create-home --shell /usr/sbin/nologin cloister
COPY --from=build /src/target/release/cloister-node /usr/local/bin/cloister-node
USER cloister
EXPOSE 30333 9944 9615
ENTRYPOINT ["cloister-node"]
