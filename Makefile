# borgpull — see README.md. Targets: build, test, test-borg14, release, deb, man, completions,
# install, uninstall, demo, bench, format-check.
SWIFT   ?= swift
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: build release test clean man completions deb format-check

build:
	$(SWIFT) build

# Lints the Swift sources with the toolchain's swift-format and the style in .swift-format;
# changes nothing, fails on any finding (`swift format --in-place --recursive ...` fixes most).
SWIFT_FORMAT ?= swift-format
format-check:
	$(SWIFT_FORMAT) lint --strict --recursive --parallel Sources Tests Plugins Package.swift

# Static Swift runtime: the installed binaries need only Debian's libc, libseccomp and libcap,
# not the toolchain's /opt/swift/usr/lib/swift (a client has no Swift installed).
release:
	$(SWIFT) build -c release --static-swift-stdlib

# The man pages (section 8) of the three commands, generated from their argument parsers by
# swift-argument-parser's manual generator (so they never drift from --help), dated by
# debian/changelog; borgpull.conf(5) is written by hand (doc/). Output: .build/man/.
MAN_DATE = $(shell date -u -d "$$(sed -n 's/^ -- .*>  //p' debian/changelog | head -n 1)" +%F)
man:
	$(SWIFT) package plugin generate-manual --configuration debug --section 8 --date $(MAN_DATE) \
	    --authors "borgpull maintainers"
	install -d .build/man
	install -m 0644 .build/plugins/GenerateManual/outputs/*/*.8 doc/borgpull.conf.5 .build/man/

# Shell completions from the release binaries' argument parsers: .build/completions/{bash,zsh,fish}/.
COMMANDS = borgpull-client borgpull-server borgpull-check
completions: release
	install -d .build/completions/bash .build/completions/zsh .build/completions/fish
	for b in $(COMMANDS); do \
	  .build/release/$$b --generate-completion-script bash > .build/completions/bash/$$b && \
	  .build/release/$$b --generate-completion-script zsh > .build/completions/zsh/_$$b && \
	  .build/release/$$b --generate-completion-script fish > .build/completions/fish/$$b.fish || exit 1; \
	done

# The Debian packages (debhelper, debian/): dist/borgpull-{client,server,check}_VERSION_ARCH.deb.
# Needs debhelper (apt-get install debhelper); the build runs `make release man completions`.
deb:
	dpkg-checkbuilddeps
	debian/rules clean
	debian/rules binary
	@ls -1 dist/*.deb

# The whole suite: unit tests of the core, system tests on the real kernel, borg, socat,
# sshd and systemd (root needed; set BORGPULL_REQUIRE_SYSTEM_TESTS=1 to fail instead of skip).
# The packages come first (they include the release build): the systemd chain test installs
# them into a container, and the package tests read them. Then the client and server system
# tests once more with borg 1.4 (test-borg14). The borg 2 spike's test (Borg2TunnelTests) runs
# in the suite with the borg 2 beta of test-borg2.
test: format-check deb
	$(SWIFT) build --build-tests
	borg2=$$(.ci/borg-venv.sh $(BORG2_VERSION)) && BORGPULL_TEST_BORG2=$$borg2 $(SWIFT) test
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

# The borg 2 spike (README "Borg 2"): create, list, extract and a refused delete through socat, ssh -R, sshd
# and the relay with borg 2.0.0b23 (the newest beta that builds against Debian 12's OpenSSL 3.0),
# cached like borg 1.4 by .ci/borg-venv.sh. Not a supported version: the product runs borg 1.
BORG2_VERSION ?= 2.0.0b23
.PHONY: test-borg2
test-borg2:
	$(SWIFT) build --build-tests
	borg2=$$(.ci/borg-venv.sh $(BORG2_VERSION)) && BORGPULL_TEST_BORG2=$$borg2 $(SWIFT) test --skip-build --filter 'SystemTests.Borg2TunnelTests'

clean:
	$(SWIFT) package clean

# Install (as root): binaries to $(PREFIX)/bin, units, policy files, users, and a config
# skeleton that never overwrites an existing file. ROLE=client|server|all.
ROLE ?= all
.PHONY: install install-client install-server uninstall
install: release man completions
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) scripts/install.sh install $(ROLE)
install-client: release man completions
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) scripts/install.sh install client
install-server: release man completions
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) scripts/install.sh install server
uninstall:
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) scripts/install.sh uninstall $(ROLE)

# The quick start (as root): a server and a client on this machine, a real pull backup, twice
# in a row is fine.
.PHONY: demo bench
demo:
	./scripts/demo.sh

# Benchmarks (not tests): local, push+prune and pull (mixed and files workloads, pinned as two hosts,
# fleet, sandbox), medians and ratios in one run, about 10 min. See bench/README.md.
bench:
	bench/run.sh
