# borgpull — see README.md. Targets: build, test, test-borg14, release, install, uninstall, demo, bench.
SWIFT   ?= swift
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: build release test clean

build:
	$(SWIFT) build

# Static Swift runtime: the installed binaries need only Debian's libc, libseccomp and libcap,
# not the toolchain's /opt/swift/usr/lib/swift (a client has no Swift installed).
release:
	$(SWIFT) build -c release --static-swift-stdlib

# The whole suite: unit tests of the core, system tests on the real kernel, borg, socat,
# sshd and systemd (root needed; set BORGPULL_REQUIRE_SYSTEM_TESTS=1 to fail instead of skip).
# The release build comes first: the systemd chain test installs it into a container.
# Then the client and server system tests once more with borg 1.4 (test-borg14).
test: release
	$(SWIFT) build --build-tests
	$(SWIFT) test
	$(MAKE) test-borg14

# The client and server system tests (BACKUP end to end, sandbox, the tunnel, the audit) again
# with borg 1.4 from PyPI: built from source into a cached virtualenv (.ci/borg-venv.sh,
# BORGPULL_CI_CACHE, default /var/cache/borgpull-ci) and selected with BORG_BINARY on the client
# and the server (BORGPULL_TEST_BORG). `make test` runs it last; alone it reuses that build.
BORG14_VERSION ?= 1.4.5
BORG14_TESTS = SystemTests.(ClientBackupTests|SandboxBackupTests|SandboxSystemTests|ServerEndToEndTests|AppendOnlyWindowTests|BorgAbortSystemTests|CheckSystemTests)
.PHONY: test-borg14
test-borg14:
	$(SWIFT) build --build-tests
	borg=$$(.ci/borg-venv.sh $(BORG14_VERSION)) && BORGPULL_TEST_BORG=$$borg $(SWIFT) test --skip-build --filter '$(BORG14_TESTS)'

clean:
	$(SWIFT) package clean

# Install (as root): binaries to $(PREFIX)/bin, units, policy files, users, and a config
# skeleton that never overwrites an existing file. ROLE=client|server|all.
ROLE ?= all
.PHONY: install install-client install-server uninstall
install: release
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) scripts/install.sh install $(ROLE)
install-client: release
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) scripts/install.sh install client
install-server: release
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) scripts/install.sh install server
uninstall:
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) scripts/install.sh uninstall $(ROLE)

# The quick start (as root): a server and a client on this machine, a real pull backup, twice
# in a row is fine.
.PHONY: demo bench
demo:
	./scripts/demo.sh

# Benchmarks (not tests): local vs push vs pull, medians and ratios in one run. See bench/README.md.
bench:
	bench/run.sh
