# The README's two commands: `make run` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
DATA_DIR ?= ./data

.PHONY: all deps configure build run demo test check-locks fuzz drills bench clean format

all: build

deps:
	@./scripts/install-deps

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# verso's main job: the HTTP API server with embedded storage under $(DATA_DIR) on
# 127.0.0.1:8080 (Ctrl-C stops it cleanly).
run: build
	$(BUILD_DIR)/verso --data-dir $(DATA_DIR) serve

# The TM on real data without the server: the machine's gettext catalogs become an
# English->Spanish TM, then lookups.
demo: build
	./scripts/demo $(BUILD_DIR)/verso $(DATA_DIR)

test: build
	ctest --test-dir $(BUILD_DIR) -j $(JOBS) --output-on-failure --timeout 900

# The lock annotations, checked by clang's -Wthread-safety (CI runs it after the tests).
check-locks:
	./scripts/check-thread-safety

# libFuzzer on every parser of tenants' bytes, 5 minutes per target (CI: 15 s each).
fuzz:
	./scripts/fuzz 300

# The fault drills at full length (CI runs bounded versions with the tests): 16 writers and a
# minute of writes after the failover; 3,000 segments per phase of the recovery drill.
drills: build
	VERSO_DRILL_WRITERS=16 VERSO_DRILL_SECONDS=60 VERSO_DRILL_SEGMENTS=3000 \
	  $(BUILD_DIR)/tests/drills/drills_test

bench: build
	@./scripts/install-deps --bench
	./bench/run-tm-bench $(BUILD_DIR)
	./bench/run-api-bench $(BUILD_DIR)
	./bench/run-mt-bench $(BUILD_DIR)
	./bench/run-quality-bench $(BUILD_DIR)
	./bench/run-jobs-bench $(BUILD_DIR)
	./bench/run-status-bench $(BUILD_DIR)
	./bench/run-fairness-bench $(BUILD_DIR)
	./bench/run-queue-bench $(BUILD_DIR)
	./bench/run-cluster-bench $(BUILD_DIR)
	./bench/run-load-bench $(BUILD_DIR) 30

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR)
