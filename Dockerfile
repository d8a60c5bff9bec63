# mautrix-msn container image.
#   docker build -t mautrix-msn .
#   docker run --rm -v "$PWD/data:/data" mautrix-msn
# The first run writes /data/config.yaml and exits; see docs/docker.md.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=unknown
RUN CGO_ENABLED=1 go build -tags goolm -trimpath \
	-ldflags "-s -w -X main.Tag=${VERSION}" \
	-o /out/mautrix-msn ./cmd/mautrix-msn

FROM debian:bookworm-slim
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates \
	&& rm -rf /var/lib/apt/lists/* \
	&& groupadd --system --gid 1337 mautrix \
	&& useradd --system --uid 1337 --gid mautrix --home-dir /data --shell /usr/sbin/nologin mautrix \
	&& mkdir /data && chown mautrix:mautrix /data
COPY --from=build /out/mautrix-msn /usr/bin/mautrix-msn
COPY docker/run.sh /docker-run.sh
USER mautrix
VOLUME /data
WORKDIR /data
EXPOSE 29340
ENTRYPOINT ["/docker-run.sh"]
