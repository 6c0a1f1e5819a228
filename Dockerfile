# syntax=docker/dockerfile:1

# The function's runtime image: a venv built on Debian, copied into distroless.
#
# Both stages MUST run the same Debian release, and so the same Python minor. The
# venv is copied as-is: bin/python3 is a symlink to /usr/bin/python3, the packages
# live in lib/python3.X/site-packages, and grpcio, pydantic-core and PyYAML ship
# compiled extensions for one CPython minor. Debian 13 and
# gcr.io/distroless/python3-debian13 both have Python 3.13. Change the two FROM
# lines together, never one alone. The upstream template broke when it built on
# Debian 13 (Python 3.13) and ran on python3-debian12 (Python 3.11):
# https://github.com/crossplane/function-template-python/issues/167. Distroless no
# longer publishes python3-debian12 (GoogleContainerTools/distroless#2084).
#
# The build stage runs on the target platform, so it has no
# --platform=$BUILDPLATFORM. pip picks wheels for the architecture it runs on,
# which means an arm64 image needs an arm64 build stage (QEMU in CI).
FROM debian:13-slim AS build

RUN --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    --mount=type=cache,target=/var/cache/apt,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
    && apt-get update \
    && apt-get install --no-install-recommends --yes python3-venv

# Build the wheel with Hatch. Debian has no hatch package and refuses global pip
# installs, so Hatch gets a venv of its own. Its version matches the Makefile's.
# The build context is mounted read-only; .dockerignore limits it to what the
# wheel needs.
WORKDIR /build
RUN --mount=target=. \
    --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /venv/build \
    && /venv/build/bin/pip install --disable-pip-version-check hatch==1.18.2 \
    && /venv/build/bin/hatch build -t wheel /whl

# Make a fresh venv that holds only the function wheel and its dependencies. The
# build stage has no compiler, so --only-binary=:all: fails fast if a dependency
# has no wheel for this Python and architecture. pip byte-compiles what it
# installs, which matters because the runtime root filesystem is read-only.
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /venv/fn \
    && /venv/fn/bin/pip install --disable-pip-version-check --only-binary=:all: /whl/*.whl

# Copy the venv to the same path in the runtime stage. Its scripts' shebangs and
# its interpreter symlink are absolute paths.
FROM gcr.io/distroless/python3-debian13:nonroot AS image
WORKDIR /
COPY --from=build /venv/fn /venv/fn
# Crossplane talks gRPC to functions on 9443 and mounts the TLS certificates it
# names in TLS_SERVER_CERTS_DIR.
EXPOSE 9443
USER nonroot:nonroot
ENTRYPOINT ["/venv/fn/bin/function"]
