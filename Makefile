# Two commands set up everything on a fresh Debian 12 machine:
#   make run    install what is missing, build the binary, start the proxy (embedded defaults)
#   make test   the same set-up, then every test (unit + integration, via ctest)
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
ARGS ?=
CREDPROXY ?= $(BUILD)/credproxy
SOAK_MINUTES ?= 20
# ccache, when installed, makes rebuilds in other clones or build trees
# cheap: paths are hashed relative to the clone, so two clones share hits.
CCACHE := $(shell command -v ccache 2>/dev/null)
ifneq ($(CCACHE),)
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
LAUNCHER := -DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE)
endif

.PHONY: all deps configure build credproxy run test bench soak sanitize tsan fuzz deploy-test clean

all: build

deps:
	@bash deploy/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(LAUNCHER) >/dev/null

build: configure
	@ninja -C $(BUILD) -j $(JOBS)

# The binary alone (no test binaries): what `make run` and the README
# walkthroughs need, minutes faster than `build` on a first run.
credproxy: configure
	@ninja -C $(BUILD) -j $(JOBS) credproxy

run: credproxy
	./$(BUILD)/credproxy serve $(ARGS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 300

# AddressSanitizer + UBSan build and test run, in its own build directory.
sanitize: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCREDPROXY_SANITIZE=ON $(LAUNCHER) >/dev/null
	@ninja -C build-asan -j $(JOBS)
	ctest --test-dir build-asan --output-on-failure -j $(JOBS) --timeout 600

# ThreadSanitizer on the unit tests of the modules with threads of their own
# (token service, vault watcher and admin pool, upstream pool, connector).
TSAN_TARGETS = oauth_tests admin_tests proxy_tests outbound_tests vault_tests
tsan: deps
	@cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCREDPROXY_TSAN=ON $(LAUNCHER) >/dev/null
	@ninja -C build-tsan -j $(JOBS) $(TSAN_TARGETS)
	@for t in $(TSAN_TARGETS); do \
	  echo "== $$t under ThreadSanitizer"; \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	    ./build-tsan/tests/$$t --gtest_brief=1 || exit 1; \
	done

# libFuzzer targets (tests/fuzz) built with clang in build-fuzz/, each run
# for FUZZ_SECONDS on a working copy of its committed corpus; stops by itself.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= request_head response_head placeholder target vault_file credential_document oauth_wire config store_rows connect_answer pool_key
fuzz:
	@bash deploy/install-deps.sh --fuzz
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 -DCREDPROXY_FUZZ=ON >/dev/null
	@ninja -C build-fuzz -j $(JOBS) fuzzers
	@bash tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Deployment checks (several minutes: the image build compiles credproxy):
# the Kubernetes overlays rendered and checked, the systemd unit verified,
# the image built with podman (deploy/Dockerfile on an mmdebstrap base, no
# registry needed) and run read-only as non-root, and the sidecar pod run
# with `podman kube play`. Needs root (mmdebstrap, podman); see README.
IMAGE ?= localhost/credproxy:dev
BASE_IMAGE ?= localhost/debian:bookworm-slim
FUNCTION_IMAGE ?= localhost/credproxy-test-function:bookworm
PODMAN = CONTAINERS_CONF=$(CURDIR)/deploy/podman/containers.conf podman --runtime runc
# A compiler cache named by $$CCACHE_DIR is lent to the image build (minutes saved).
IMAGE_CCACHE = $(if $(and $(CCACHE_DIR),$(wildcard $(CCACHE_DIR))),-v $(CCACHE_DIR):/ccache --build-arg CCACHE_DIR=/ccache)
deploy-test:
	@bash deploy/install-deps.sh --containers
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(LAUNCHER) >/dev/null
	@ninja -C $(BUILD) -j $(JOBS) credproxy
	python3 tests/deploy/render_test.py
	bash tests/deploy/systemd_test.sh $(BUILD)/credproxy
	bash deploy/podman/base-image.sh $(BASE_IMAGE)
	bash deploy/podman/base-image.sh $(FUNCTION_IMAGE) curl python3-minimal
	$(PODMAN) build --build-arg BASE=$(BASE_IMAGE) $(IMAGE_CCACHE) -f deploy/Dockerfile -t $(IMAGE) .
	bash tests/deploy/image_test.sh $(IMAGE)
	python3 tests/deploy/pod_test.py --image $(IMAGE) --function-image $(FUNCTION_IMAGE)

bench: deps
	bash bench/run.sh

# Soak: SOAK_MINUTES of mixed load against an existing binary (no rebuild);
# fails if RSS or descriptors grow. See bench/soak.py.
soak:
	python3 bench/soak.py --credproxy $(CREDPROXY) --minutes $(SOAK_MINUTES)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
