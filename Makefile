# learnctr — build, run, test.
#   make run     build, then start the course (asks for sudo when not root)
#   make test    unit tests and root integration tests (asks for sudo when not root)

CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo "sudo -E env PATH=$$PATH")
BIN := target/release/learnctr

.PHONY: all build run test unit deps lint fmt bench install rootfs clean

all: build

build:
	$(CARGO) build --release

run: build deps
	$(SUDO) ./$(BIN)

# What the tests need beyond Rust: a static busybox for the test root filesystem,
# runc for lessons 8 and 10's side-by-side comparison (and `make bench`), and the
# engines that run on learnctr: Podman (lesson 11), Docker and containerd (tests).
deps:
	@if ! [ -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then \
		echo "installing busybox-static (for the test root filesystem)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq busybox-static; \
	fi
	@if ! command -v runc >/dev/null 2>&1; then \
		echo "installing runc (lessons 8 and 10 compare learnctr with it)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq runc; \
	fi
	@if ! command -v podman >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1 || ! command -v containerd >/dev/null 2>&1; then \
		echo "installing podman, docker.io and containerd (lesson 11 and the engine tests run them on learnctr)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
			podman conmon containernetworking-plugins docker.io containerd; \
	fi
	@if ! command -v docker-registry >/dev/null 2>&1 || ! command -v skopeo >/dev/null 2>&1 || ! command -v umoci >/dev/null 2>&1 || ! command -v buildah >/dev/null 2>&1 || ! command -v getfattr >/dev/null 2>&1; then \
		echo "installing docker-registry, skopeo, umoci, buildah and attr (lesson 9's pull and getfattr, the image tests)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
			docker-registry skopeo umoci buildah attr && \
		$(SUDO) sh -c 'if [ -d /run/systemd/system ]; then systemctl disable --now docker-registry.service; \
			else invoke-rc.d docker-registry stop; update-rc.d docker-registry disable; fi' >/dev/null 2>&1 || true; \
	fi

# Build as the current user, run as root: the integration tests make namespaces,
# mounts and cgroups. With CI=true a root test that cannot run fails instead of skipping.
test: deps
	$(CARGO) test --workspace --no-run -q
	$(SUDO) $(CARGO) test --workspace --no-fail-fast

unit:
	$(CARGO) test --workspace --bins --lib

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Side by side, alternating, medians and ratios: rootfs unpacking against GNU tar, and
# the runtime against runc (crun, youki) on the same /bin/true bundle, and Podman on
# learnctr against Podman on runc, and `learnctr image unpack` and `pull` against
# `umoci unpack` and `skopeo copy` on an image made from this machine's directories
# (skipped without umoci, skopeo and docker-registry).
bench: build deps
	$(CARGO) run --release -q -p rootfs-fetch --example bench_unpack
	$(SUDO) python3 scripts/bench-runtime.py $(BIN)
	$(SUDO) python3 scripts/bench-engines.py $(BIN)
	$(SUDO) python3 scripts/bench-images.py $(BIN)

install: build
	$(SUDO) install -m 0755 $(BIN) /usr/local/bin/learnctr

rootfs: build
	$(SUDO) ./$(BIN) rootfs fetch

clean:
	$(CARGO) clean
