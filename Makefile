# kyoka — build, test, install. See README.md; `make help` lists the targets.
#
# Sources are found by directory, so adding a file needs no Makefile edit:
#   basic/*.c   -> build/libkyoka-basic.a   (shared helpers)
#   policy/*.c  -> build/libkyoka-policy.a  (format, signature, anti-rollback, matching)
#   ledger/*.c  -> build/libkyoka-ledger.a  (when present)
#   daemon/*.c  -> build/libkyoka-daemon.a (all but main.c, so tests can link it)
#   policyctl/*.c -> build/policyctl,  daemon/main.c -> build/kyokad
#   helpers/NAME.c -> build/NAME (small programs for udev; libkyoka-basic and the daemon
#                     objects they name in HELPER_OBJS_NAME only: no other dependency)
#   tests/unit/test-*.c -> build/tests/test-*   (cmocka; each links the libraries)
#   tests/fuzz/fuzz-*.c -> build/fuzz/fuzz-*    (libFuzzer, clang)
#   po/LANG.po -> build/locale/LANG/LC_MESSAGES/kyoka.mo (gettext; `make pot` refreshes
#                 po/kyoka.pot and merges it into every po/LANG.po)
#
# The layers, each built with the include paths and pkg-config libraries of itself and the
# layers below it only, so that none can include a header of one above it:
#   basic <- policy <- ledger <- daemon (kyokad)
#                             <- policyctl
# kyokad and policyctl share their names (socket, commands, files, directories) through
# basic/kyoka-names.h; policyctl links neither libkyoka-daemon nor libudev, libnl, libnftables.

# The version: the top entry of packaging/debian/changelog, so that the binaries (--version), the
# man pages, the .deb and the .rpm (packaging/rpm/kyoka.spec: packaging/build-rpm.sh refuses to
# build when they differ) say the same.
VERSION  ?= $(shell head -1 packaging/debian/changelog | cut -d'(' -f2 | cut -d')' -f1)
PREFIX   ?= /usr/local
DESTDIR  ?=
LOCALEDIR ?= $(PREFIX)/share/locale
BUILD    ?= build
SANITIZE ?=

CC       ?= cc
PKG_CONFIG ?= pkg-config
# What each directory may use: INCLUDES_<dir> and PKGS_<dir>. The unit tests and the fuzz
# targets test every layer and see them all.
INCLUDES_basic     := -Ibasic
INCLUDES_policy    := $(INCLUDES_basic) -Ipolicy
INCLUDES_ledger    := $(INCLUDES_policy) -Iledger
INCLUDES_daemon    := $(INCLUDES_ledger) -Idaemon
INCLUDES_policyctl := $(INCLUDES_ledger) -Ipolicyctl
INCLUDES_helpers   := $(INCLUDES_basic) -Ipolicy -Idaemon   # block-access.h, media-*.h (identity.h's types)
INCLUDES_notify    := $(INCLUDES_policy) -Inotify
INCLUDES_tests     := $(INCLUDES_daemon) -Ipolicyctl -Inotify
# basic/ uses json-c's headers (json-util.h); the programs that call json-util.c link json-c.
PKGS_basic     := json-c
PKGS_policy    := $(PKGS_basic) libconfig libcrypto
PKGS_ledger    := $(PKGS_policy) sqlite3 libsystemd
PKGS_daemon    := $(PKGS_ledger) libudev libnl-3.0 libnl-route-3.0 libnl-genl-3.0 libnftables
PKGS_policyctl := $(PKGS_ledger)
PKGS_helpers   :=
PKGS_notify    := $(PKGS_policy) libsystemd
PKGS_tests     := $(PKGS_daemon)
pkg_cflags = $(if $(1),$(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null))
$(foreach d,basic policy ledger daemon policyctl helpers notify tests,$(eval PKG_CFLAGS_$(d) := $(call pkg_cflags,$(PKGS_$(d)))))
PKG_CFLAGS := $(PKG_CFLAGS_tests)
# libnftables: its header only; the nftables worker loads it (dlopen, daemon/nft-worker.c).
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(filter-out libnftables,$(PKGS_daemon)) 2>/dev/null)
CTL_PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS_policyctl) 2>/dev/null)
NOTIFY_PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS_notify) 2>/dev/null)

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
            -Wno-unused-parameter -Wpointer-arith -Wvla
CPPFLAGS += -D_GNU_SOURCE
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARNINGS) -fstack-protector-strong -fno-strict-aliasing
ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -O1
LDFLAGS  += -fsanitize=address,undefined
else ifeq ($(SANITIZE),fuzz)
# The libraries the fuzz targets link (make fuzz-libs): instrumented for libFuzzer, with clang.
CFLAGS   += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -O1
else
CPPFLAGS += -D_FORTIFY_SOURCE=2
endif

BASIC_SRC  := $(wildcard basic/*.c)
POLICY_SRC := $(wildcard policy/*.c)
LEDGER_SRC := $(wildcard ledger/*.c)
CTL_SRC    := $(wildcard policyctl/*.c)
DAEMON_SRC := $(wildcard daemon/*.c)
NOTIFY_SRC := $(wildcard notify/*.c)
DAEMON_LIB_SRC := $(filter-out daemon/main.c,$(DAEMON_SRC))
UNIT_SRC   := $(wildcard tests/unit/test-*.c)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz-*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_BASIC  := $(BUILD)/libkyoka-basic.a
LIB_POLICY := $(BUILD)/libkyoka-policy.a
LIB_LEDGER := $(if $(LEDGER_SRC),$(BUILD)/libkyoka-ledger.a)
LIB_DAEMON := $(if $(DAEMON_LIB_SRC),$(BUILD)/libkyoka-daemon.a)
LIBS       := $(LIB_DAEMON) $(LIB_LEDGER) $(LIB_POLICY) $(LIB_BASIC)

HELPER_SRC := $(wildcard helpers/*.c)
HELPERS    := $(patsubst helpers/%.c,$(BUILD)/%,$(HELPER_SRC))
PROGRAMS   := $(BUILD)/policyctl $(if $(filter daemon/main.c,$(DAEMON_SRC)),$(BUILD)/kyokad) $(HELPERS) \
              $(if $(NOTIFY_SRC),$(BUILD)/kyoka-notify)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

# Keep object files that only a test needs (make would delete them as intermediates).
.SECONDARY:

.PHONY: all programs man deps check check-unit check-asan check-fuzz check-integration check-vm check-fleet demo fuzz bench \
        install deb deb-previous rpm check-packages clean help pot check-po
all: $(PROGRAMS) $(LIBS)
# What a package ships, without the test helpers (debian/rules, kyoka.spec).
programs: $(PROGRAMS)

# kyokad --version and policyctl --version; rebuilt when the changelog's version changes.
VERSIONED_OBJS := $(BUILD)/obj/policyctl/policyctl.o $(BUILD)/obj/daemon/main.o
$(VERSIONED_OBJS): CPPFLAGS += -DKYOKA_VERSION='"$(VERSION)"'
$(VERSIONED_OBJS): packaging/debian/changelog

# The catalogues' directory, compiled in (basic/i18n.c; the tests set $$KYOKA_LOCALEDIR). The
# stamp recompiles it when LOCALEDIR (or PREFIX) changes: `make && make install PREFIX=/usr`
# must not install a policyctl that looks in /usr/local.
$(BUILD)/obj/basic/i18n.o: CPPFLAGS += -DKYOKA_LOCALEDIR='"$(LOCALEDIR)"'
$(BUILD)/obj/basic/i18n.o: $(BUILD)/obj/basic/i18n.localedir
$(BUILD)/obj/basic/i18n.localedir: FORCE
	@mkdir -p $(dir $@)
	@echo '$(LOCALEDIR)' | cmp -s - $@ || echo '$(LOCALEDIR)' >$@
.PHONY: FORCE
FORCE:

# Tests find their fixtures wherever they are run from.
$(BUILD)/obj/tests/%.o: CPPFLAGS += -DTEST_DATA_DIR='"$(CURDIR)/tests/data"'

# The layer of build/obj/DIR/...: DIR (tests/unit/x.c: tests).
layer = $(firstword $(subst /, ,$*))
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(INCLUDES_$(layer)) $(CFLAGS) $(PKG_CFLAGS_$(layer)) -MMD -MP -c $< -o $@

$(LIB_BASIC): $(call obj,$(BASIC_SRC))
$(LIB_POLICY): $(call obj,$(POLICY_SRC))
$(BUILD)/libkyoka-ledger.a: $(call obj,$(LEDGER_SRC))
$(BUILD)/libkyoka-daemon.a: $(call obj,$(DAEMON_LIB_SRC))
$(BUILD)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

CTL_LIBS := $(LIB_LEDGER) $(LIB_POLICY) $(LIB_BASIC)
$(BUILD)/policyctl: $(call obj,$(CTL_SRC)) $(CTL_LIBS)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(CTL_SRC)) $(CTL_LIBS) $(CTL_PKG_LIBS)

# kyoka-notify, the desktop session's notifier (notify/): libkyoka-policy (the request file's
# check, shared with policyctl request) and libkyoka-basic, json-c and libsystemd (sd-bus,
# sd-event, sd-login). Its messages are gettext's, domain "kyoka" (basic/i18n.h, po/).
$(BUILD)/kyoka-notify: $(call obj,$(NOTIFY_SRC)) $(LIB_POLICY) $(LIB_BASIC)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(NOTIFY_SRC)) $(LIB_POLICY) $(LIB_BASIC) $(NOTIFY_PKG_LIBS)

$(BUILD)/kyokad: $(BUILD)/obj/daemon/main.o $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(PKG_LIBS)

# The udev helper: the access-file reader and BLKROSET (daemon/block-access.c), and for media on
# other buses the sysfs view of a disk and the fixed-disk rule (daemon/media-sysfs.c,
# media-fixed.c), nothing else.
# identity.c (sanitising device strings, the bus names) brings json-c, which its request
# functions use and the helper does not call, and wireless.c (the SSID and mode names its
# request functions use).
HELPER_OBJS_kyoka-block-access := $(BUILD)/obj/daemon/block-access.o $(BUILD)/obj/daemon/media-sysfs.o \
                                  $(BUILD)/obj/daemon/media-fixed.o $(BUILD)/obj/policy/identity.o \
                                  $(BUILD)/obj/policy/wireless.o
$(BUILD)/kyoka-block-access: $(BUILD)/obj/helpers/kyoka-block-access.o $(HELPER_OBJS_kyoka-block-access) $(LIB_BASIC)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs json-c)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(PKG_LIBS) -lcmocka

# policyctl's verbs and helpers, without main() (policyctl/policyctl.c): the test defines the
# global options, and wraps path_join() to make it fail as it does out of memory.
CTL_TEST_OBJS := $(call obj,$(filter-out policyctl/policyctl.c,$(CTL_SRC)))
$(BUILD)/tests/test-policyctl: $(BUILD)/obj/tests/unit/test-policyctl.o $(CTL_TEST_OBJS) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,--wrap=path_join -o $@ $< $(CTL_TEST_OBJS) $(LIBS) $(PKG_LIBS) -lcmocka

# kyoka-notify's texts and state, without main(); the texts are checked in Japanese against the
# catalog built here.
NOTIFY_TEST_OBJS := $(call obj,$(filter-out notify/main.c,$(NOTIFY_SRC)))
$(BUILD)/obj/tests/unit/test-notify.o: CPPFLAGS += -DTEST_LOCALE_DIR='"$(abspath $(BUILD))/locale"'
# (The catalogue by name: MO_FILES is defined further down, after this rule is read.)
$(BUILD)/tests/test-notify: $(BUILD)/obj/tests/unit/test-notify.o $(NOTIFY_TEST_OBJS) $(LIBS) \
                            $(BUILD)/locale/ja/LC_MESSAGES/kyoka.mo
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(NOTIFY_TEST_OBJS) $(LIBS) $(PKG_LIBS) -lcmocka

# tests/integration/*.c -> $(BUILD)/tests/integration/NAME: helpers of the integration tests
# (umockdev testbeds), linked with libumockdev and GLib rather than with kyoka's libraries.
INTEGRATION_PKGS := umockdev-1.0 glib-2.0 gobject-2.0
INTEGRATION_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(wildcard tests/integration/*.c))
all: $(INTEGRATION_BINS)
$(BUILD)/tests/integration/%: tests/integration/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags $(INTEGRATION_PKGS)) $(LDFLAGS) -o $@ $< \
		$(shell $(PKG_CONFIG) --libs $(INTEGRATION_PKGS))

# --- translations ---------------------------------------------------------------------------
# English source strings marked _("...") (N_ where translated later, ngettext for counts) in the
# sources below; po/kyoka.pot is their template (make pot), po/LANG.po a translation. msgfmt
# --check verifies that each translation's printf directives match its msgid's (a catalogue is
# a list of formats), and the build fails on a fuzzy or untranslated message: what the person at
# the keyboard reads is complete or the build says so. tests/integration/test-policyctl-ja.sh
# also checks that po/ja.po covers every string of the current sources.
POT_SRC  := $(CTL_SRC) daemon/main.c $(NOTIFY_SRC)
XGETTEXT_FLAGS := --language=C --from-code=UTF-8 --no-location --add-comments=TRANSLATORS: \
        --keyword=_ --keyword=N_ --keyword=ngettext:1,2 \
        --flag=_:1:pass-c-format --flag=ngettext:1:pass-c-format \
        --flag=ngettext:2:pass-c-format --flag=log_error:1:c-format --flag=log_error_errno:2:c-format \
        --flag=usage_error:2:c-format --package-name=kyoka \
        --msgid-bugs-address="the kyoka issue tracker"
LINGUAS  := $(patsubst po/%.po,%,$(wildcard po/*.po))
MO_FILES := $(patsubst %,$(BUILD)/locale/%/LC_MESSAGES/kyoka.mo,$(LINGUAS))
all: $(MO_FILES)
$(BUILD)/locale/%/LC_MESSAGES/kyoka.mo: po/%.po
	@mkdir -p $(dir $@)
	msgfmt --check --statistics -o $@.tmp $< 2>$@.log || { cat $@.log; rm -f $@.tmp; exit 1; }
	@cat $@.log
	@if grep -Eq 'fuzzy|untranslated' $@.log; then echo "$<: fuzzy or untranslated messages"; rm -f $@.tmp; exit 1; fi
	mv $@.tmp $@
# check-po: every po/LANG.po translates every string of the current sources (the rule above
# checks the .po alone); tests/integration/test-policyctl-ja.sh runs it.
check-po:
	@mkdir -p $(BUILD)/po
	xgettext $(XGETTEXT_FLAGS) -o $(BUILD)/po/kyoka.pot $(POT_SRC)
	@for l in $(LINGUAS); do \
		msgmerge --quiet --no-location -o $(BUILD)/po/$$l.po po/$$l.po $(BUILD)/po/kyoka.pot || exit 1; \
		s=$$(msgfmt --check --statistics -o /dev/null $(BUILD)/po/$$l.po 2>&1) || { echo "$$s"; exit 1; }; \
		echo "po/$$l.po against the sources: $$s"; \
		case "$$s" in *fuzzy*|*untranslated*) echo "po/$$l.po: run make pot and translate"; exit 1;; esac; \
	done
pot:
	xgettext $(XGETTEXT_FLAGS) -o po/kyoka.pot $(POT_SRC)
	for l in $(LINGUAS); do msgmerge --quiet --update --backup=none --no-location po/$$l.po po/kyoka.pot || exit 1; done

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# --- dependencies ---------------------------------------------------------------------------
# Everything the build and the tests need, from Debian 12's archive. Idempotent: apt-get runs
# only when a package is missing.
DEPS := build-essential pkg-config clang libclang-rt-14-dev openssl \
        libconfig-dev libjson-c-dev libssl-dev libcmocka-dev libsystemd-dev libudev-dev \
        umockdev libumockdev-dev \
        libnl-3-dev libnl-route-3-dev libnl-genl-3-dev libnftables-dev nftables iproute2 iputils-ping \
        python3 tzdata procps systemd \
        libsqlite3-dev sqlite3 chromium fonts-noto-cjk \
        weasyprint fonts-ipaexfont-gothic poppler-utils libreoffice-calc-nogui \
        gettext locales hostapd wpasupplicant iw \
        pandoc groff man-db bash-completion zsh \
        dpkg-dev debhelper po-debconf lintian rpm \
        dunst xvfb dbus-x11 libnotify-bin x11-apps imagemagick \
        clamav-daemon clamav \
        ansible ansible-lint systemd-journal-remote socat openssh-client
# locales: ja_JP.UTF-8 for tests/integration/test-policyctl-ja.sh (Debian generates only the
# locales named in /etc/locale.gen; --keep-existing leaves the others alone).
deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$(echo $$missing | sed 's/^/ /')"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "make deps: all present"; fi
	@if ! locale -a 2>/dev/null | grep -qix 'ja_JP\.utf-\?8'; then \
		echo "make deps: generating the locale ja_JP.UTF-8"; \
		grep -q '^ja_JP.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null || echo 'ja_JP.UTF-8 UTF-8' >> /etc/locale.gen; \
		locale-gen --keep-existing; \
	fi

# --- tests ----------------------------------------------------------------------------------
# check: the whole suite (README's test command). Unit tests run twice: as built, and under
# ASan+UBSan in build/asan. Each runner prints a closing "N passed, N failed" line.
check: deps
	$(MAKE) all man $(UNIT_TESTS)
	$(MAKE) check-asan
	$(MAKE) check-fuzz
	tests/run-unit.sh $(BUILD)/tests
	tests/run-integration.sh $(BUILD)
	$(MAKE) check-packages
	$(MAKE) check-vm
	$(MAKE) check-fleet
	@echo "make check: all suites passed"

check-unit: all $(UNIT_TESTS)
	tests/run-unit.sh $(BUILD)/tests

check-asan:
	$(MAKE) BUILD=build/asan SANITIZE=1 $(patsubst $(BUILD)/%,build/asan/%,$(UNIT_TESTS)) build/asan/policyctl
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/run-unit.sh build/asan/tests

check-integration: all
	tests/run-integration.sh $(BUILD)

# Real kernel: QEMU (TCG) boots a pinned Debian kernel with kyokad (tests/vm/README.md).
# tests/vm/test-systemd.py installs, upgrades and purges the .deb: make deb deb-previous first.
check-vm: all
	tests/vm/run.sh

# A fleet (issue 18): packaging/ansible's role applied to the systemd VM of test-systemd.py over
# SSH, its records in a systemd-journal-remote collector on the host's loopback, the exports
# collected and verified (tests/vm/test-fleet.py). The role is linted first. Uses $(BUILD)/deb
# (make deb; built here when missing).
check-fleet: all
	@ls $(BUILD)/deb/kyoka_*.deb >/dev/null 2>&1 || $(MAKE) deb
	cd packaging/ansible && ansible-lint -q
	tests/vm/run.sh tests/vm/test-fleet.py

# The packages as check builds them: the .deb (lintian must pass), the previous build the VM test
# upgrades from, and the .rpm.
check-packages: deb deb-previous rpm

# --- the demo -------------------------------------------------------------------------------
# README's second command: installs what it needs, builds, boots a real kernel in QEMU with
# kyokad and narrates the scenario of tests/vm/demo.py (PASS/FAIL and the exit status at the end).
demo: deps
	$(MAKE) all
	tests/vm/deps.sh
	tests/vm/build-image.sh
	BUILD=$(abspath $(BUILD)) python3 tests/vm/demo.py

# --- fuzzing --------------------------------------------------------------------------------
# Each target runs for FUZZ_SECONDS from its seed corpus (tests/fuzz/corpus/NAME); new
# findings land in build/fuzz/findings/NAME and must become unit tests.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE $(INCLUDES_tests) $(PKG_CFLAGS)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
# The sources are compiled once, into instrumented libraries in build/fuzz/lib, and every target
# links them (compiling every source for each of a dozen targets was most of make check's CPU).
FUZZ_LIBDIR  := build/fuzz/lib
FUZZ_LIBS    := $(patsubst $(BUILD)/%,$(FUZZ_LIBDIR)/%,$(LIBS))
.PHONY: fuzz-libs fuzz-bins
fuzz-libs:
	$(MAKE) BUILD=$(FUZZ_LIBDIR) SANITIZE=fuzz CC=$(FUZZ_CC) $(FUZZ_LIBS)
fuzz-bins: fuzz-libs
	$(MAKE) $(FUZZ_BINS)
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LIBS) $(PKG_LIBS)
fuzz: deps fuzz-bins
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); \
		mkdir -p build/fuzz/corpus/$$n build/fuzz/findings/$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		UBSAN_OPTIONS=halt_on_error=1 $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -artifact_prefix=build/fuzz/findings/$$n/ \
			build/fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done
# Regression only, no fuzzing: every target runs each of its seeds once (findings become seeds).
check-fuzz: fuzz-bins
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $$f -runs=0 tests/fuzz/corpus/$$n \
			>build/fuzz/$$n.check.log 2>&1 || { cat build/fuzz/$$n.check.log; echo "check-fuzz: $$n FAILED"; exit 1; }; \
		echo "check-fuzz: $$n: $$(ls tests/fuzz/corpus/$$n | wc -l) seeds ok"; \
	done

# --- benchmarks -----------------------------------------------------------------------------
bench: all
	bench/run.sh $(BUILD)

# --- man pages ------------------------------------------------------------------------------
# From the Markdown references in docs/ by pandoc (docs/man.lua turns a document into a man
# page: its first heading is the title, `docs/X.md` becomes the installed path); one source, read
# on the web as it is and as man pages once built.
PANDOC   ?= pandoc
MAN_DATE := $(shell d=$$(sed -n 's/^ -- .*>  //p' packaging/debian/changelog | head -1); date -u -d "$$d" +%Y-%m-%d 2>/dev/null)
MANPAGES := $(BUILD)/man/kyokad.8 $(BUILD)/man/policyctl.8 $(BUILD)/man/kyoka-policy.5 $(BUILD)/man/kyoka-request.5 \
            $(BUILD)/man/kyoka-notify.1
$(BUILD)/man/kyokad.8: docs/kyokad.md
$(BUILD)/man/policyctl.8: docs/policyctl.md
$(BUILD)/man/kyoka-policy.5: docs/policy.md
$(BUILD)/man/kyoka-request.5: docs/request.md
$(BUILD)/man/kyoka-notify.1: docs/kyoka-notify.md
$(MANPAGES): docs/man.lua packaging/debian/changelog
	@mkdir -p $(dir $@)
	$(PANDOC) --from=gfm --to=man --standalone --lua-filter=docs/man.lua \
		--metadata=title:$$(basename $@ $(suffix $@) | tr a-z A-Z) \
		--metadata=section:$(subst .,,$(suffix $@)) --metadata=date:$(MAN_DATE) \
		--metadata=footer:"kyoka $(VERSION)" --metadata=header:kyoka \
		--output=$@ $(filter %.md,$^)
man: $(MANPAGES)

# --- installation ---------------------------------------------------------------------------
SBINDIR      ?= $(PREFIX)/sbin
LIBEXECDIR   ?= $(PREFIX)/lib/kyoka
UNITDIR      ?= $(PREFIX)/lib/systemd/system
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
SYSUSERSDIR  ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR  ?= $(PREFIX)/lib/tmpfiles.d
CATALOGDIR   ?= $(PREFIX)/lib/systemd/catalog
MANDIR       ?= $(PREFIX)/share/man
BASHCOMPDIR  ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR   ?= $(PREFIX)/share/zsh/vendor-completions
USERUNITDIR  ?= $(PREFIX)/lib/systemd/user
AUTOSTARTDIR ?= /etc/xdg/autostart
install: programs man $(MO_FILES)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(UDEVRULESDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(PREFIX)/share/doc/kyoka $(DESTDIR)$(CATALOGDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 $(BUILD)/policyctl $(DESTDIR)$(PREFIX)/bin/policyctl
	install -m 0755 $(BUILD)/kyokad $(DESTDIR)$(SBINDIR)/kyokad
	install -m 0755 $(BUILD)/kyoka-notify $(DESTDIR)$(PREFIX)/bin/kyoka-notify
	install -d $(DESTDIR)$(USERUNITDIR) $(DESTDIR)$(AUTOSTARTDIR)
	sed 's|@BINDIR@|$(PREFIX)/bin|g' notify/kyoka-notify.service.in > $(DESTDIR)$(USERUNITDIR)/kyoka-notify.service
	sed 's|@BINDIR@|$(PREFIX)/bin|g' notify/kyoka-notify.desktop.in > $(DESTDIR)$(AUTOSTARTDIR)/kyoka-notify.desktop
	chmod 0644 $(DESTDIR)$(USERUNITDIR)/kyoka-notify.service $(DESTDIR)$(AUTOSTARTDIR)/kyoka-notify.desktop
	sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/kyokad.service.in > $(DESTDIR)$(UNITDIR)/kyokad.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/kyokad.service
	for f in systemd/*.service systemd/*.socket systemd/*.timer; do [ -e "$$f" ] || continue; \
		sed 's|@SBINDIR@|$(SBINDIR)|g; s|@BINDIR@|$(PREFIX)/bin|g' "$$f" > $(DESTDIR)$(UNITDIR)/$$(basename "$$f"); \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename "$$f"); done
	install -m 0755 $(BUILD)/kyoka-block-access $(DESTDIR)$(LIBEXECDIR)/kyoka-block-access
	for f in udev-rules/*.rules; do \
		sed 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' "$$f" > $(DESTDIR)$(UDEVRULESDIR)/$$(basename "$$f"); \
		chmod 0644 $(DESTDIR)$(UDEVRULESDIR)/$$(basename "$$f"); done
	install -m 0644 systemd/kyoka.conf.sysusers $(DESTDIR)$(SYSUSERSDIR)/kyoka.conf
	install -m 0644 systemd/kyoka.conf.tmpfiles $(DESTDIR)$(TMPFILESDIR)/kyoka.conf
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/kyoka/
	install -d $(DESTDIR)$(PREFIX)/share/doc/kyoka/ja
	install -m 0644 docs/ja/*.md $(DESTDIR)$(PREFIX)/share/doc/kyoka/ja/
	for l in $(LINGUAS); do \
		install -D -m 0644 $(BUILD)/locale/$$l/LC_MESSAGES/kyoka.mo $(DESTDIR)$(LOCALEDIR)/$$l/LC_MESSAGES/kyoka.mo || exit 1; done
	install -m 0644 catalog/kyoka.catalog catalog/kyoka.ja.catalog $(DESTDIR)$(CATALOGDIR)/
	install -D -m 0644 $(filter %.1,$(MANPAGES)) -t $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(filter %.5,$(MANPAGES)) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(filter %.8,$(MANPAGES)) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 shell-completion/bash/policyctl $(DESTDIR)$(BASHCOMPDIR)/policyctl
	install -m 0644 shell-completion/zsh/_policyctl $(DESTDIR)$(ZSHCOMPDIR)/_policyctl

# --- packages -------------------------------------------------------------------------------
# make deb: kyoka_VERSION_ARCH.deb and kyoka-approver_VERSION_ARCH.deb in $(BUILD)/deb, built by
# dpkg-buildpackage from a copy of the tree with packaging/debian as debian/, then lintian
# (errors and warnings fail, packaging/debian/*.lintian-overrides say why for the rest).
# deb-previous: the same tree as version VERSION~previous in $(BUILD)/deb-previous, which
# tests/vm/test-systemd.py installs first and upgrades from. rpm: packaging/rpm/kyoka.spec by
# rpmbuild -bb in $(BUILD)/rpm. None of them needs the network.
deb:
	packaging/build-deb.sh $(abspath $(BUILD)/deb)
deb-previous:
	packaging/build-deb.sh $(abspath $(BUILD)/deb-previous) $(VERSION)~previous
rpm:
	packaging/build-rpm.sh $(abspath $(BUILD)/rpm)

clean:
	rm -rf build

help:
	@echo "targets: all programs man pot check-po deps check check-unit check-asan check-fuzz check-integration"
	@echo "         check-packages check-vm check-fleet demo fuzz bench install deb deb-previous rpm clean"
