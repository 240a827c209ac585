# mem-kv container image.
#
#   buildah bud -t mem-kv .        (or: docker build -t mem-kv .)
#   docker run -d -p 8080:8080 -p 9180:9180 -v mem-kv-data:/data mem-kv
#
# Stage 1 builds the Release binaries and runs the unit tests; stage 2 holds
# only the two binaries, libev and bash. See docs/operations.md.
#
# Multi-arch (linux/amd64, linux/arm64): nothing here is x86-only; each
# platform builds natively from its own debian:bookworm-slim and its own
# -dev packages (arm64's ck_md.h says CK_MD_RMO), under qemu binfmt for a
# foreign one:
#   docker buildx build --platform linux/amd64,linux/arm64 -t mem-kv .
#   buildah bud --platform linux/arm64 -t mem-kv:arm64 .    (docs/arm64.md)

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      build-essential cmake pkg-config libck-dev libev-dev libcmocka-dev libssl-dev \
      liblua5.1-0-dev libjemalloc-dev liburing-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY engine engine
COPY persist persist
COPY actors actors
COPY net net
COPY bench bench
COPY tests tests
RUN echo "building mem-kv for $(uname -m)" \
 && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMEMKV_WERROR=ON \
 && cmake --build build -j"$(nproc)" \
 && cd build && ctest -L unit --output-on-failure \
 && strip mem-kv-server mem-kv-bench

FROM debian:bookworm-slim
# libev4, libssl3 (TLS), liblua5.1-0 (EVAL), libjemalloc2 (the allocator,
# docs/memory.md#the-allocator) and liburing2 (--io-backend uring; Docker's
# default seccomp profile blocks io_uring, then auto uses epoll): the shared libraries the binaries need
# beyond libc (ck's ring is header-only code here; `ldd build/mem-kv-server` shows the list).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libev4 libssl3 liblua5.1-0 \
      libjemalloc2 liburing2 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && useradd --system --uid 999 --user-group --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin memkv \
 && mkdir -p /data /etc/mem-kv \
 && chown memkv:memkv /data
COPY --from=build /src/build/mem-kv-server /src/build/mem-kv-bench /usr/local/bin/
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
COPY deploy/mem-kv-healthcheck.sh /usr/local/bin/mem-kv-healthcheck
USER memkv
WORKDIR /data
VOLUME /data
# 8080: RESP and plain text; 9180: Prometheus /metrics (set by the entrypoint).
EXPOSE 8080 9180
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["mem-kv-healthcheck"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD []
