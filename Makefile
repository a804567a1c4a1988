# vstream: the two commands of the README.
#   make run    build, then transcode the bundled sample into ./out (no external service)
#   make test   the whole test suite
# Both install what they need first (Debian packages, PyPI packages), as root on Debian 12.

SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
DEBIAN_PACKAGES = pkg-config ffmpeg libavcodec-dev libavformat-dev libswscale-dev \
	libswresample-dev libavutil-dev gstreamer1.0-tools gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav time libsqlite3-dev
FIXTURES = fixtures/media
SAMPLE = $(FIXTURES)/h264_1080p30_stereo.mp4

.PHONY: run test deps build fixtures clean

run: deps fixtures
	$(SWIFT) build -c release --product vstream
	.build/release/vstream transcode $(SAMPLE) -o out

test: deps fixtures
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Installs only what is missing, so a second run costs nothing.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

fixtures:
	bash fixtures/make_fixtures.sh $(FIXTURES)

build: deps
	$(SWIFT) build

clean:
	rm -rf .build out $(FIXTURES)
