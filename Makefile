# Two commands set up everything on a fresh Debian 12 machine:
#   make run    install what is missing, build, start the proxy (embedded defaults)
#   make test   the same set-up, then every test (unit + integration, via ctest)
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
ARGS ?=
CREDPROXY ?= $(BUILD)/credproxy
SOAK_MINUTES ?= 20

.PHONY: all deps configure build run test bench soak sanitize clean

all: build

deps:
	@bash deploy/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@ninja -C $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/credproxy serve $(ARGS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 300

# AddressSanitizer + UBSan build and test run, in its own build directory.
sanitize: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCREDPROXY_SANITIZE=ON >/dev/null
	@ninja -C build-asan -j $(JOBS)
	ctest --test-dir build-asan --output-on-failure -j $(JOBS) --timeout 600

bench: deps
	bash bench/run.sh

# Soak: SOAK_MINUTES of mixed load against an existing binary (no rebuild);
# fails if RSS or descriptors grow. See bench/soak.py.
soak:
	python3 bench/soak.py --credproxy $(CREDPROXY) --minutes $(SOAK_MINUTES)

clean:
	rm -rf $(BUILD) build-asan
