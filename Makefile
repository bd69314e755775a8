# redflagd — one plain GNU Makefile. All outputs go under $(BUILD)/.
#
#   make            build/redflagd
#   make deps       install every Debian package the build, tests, bench and demo need
#   make test       deps + build + unit tests + integration tests (real Dovecot, real SMTP)
#   make asan       the same tests, built with AddressSanitizer + UBSan, in build/asan/
#   make lint       clang-format check, cppcheck, banned functions
#   make bench      import, classification and digest benchmarks (tests/bench/README.md)
#   make eval       classifier precision/recall on labelled mail (CORPUS=../shared/corpus)
#   make model      retrain conf/model/signals.model from the labelled corpora
#   make demo       the whole product on a throwaway local mailbox
#   make fresh      make demo + make test inside a bare Debian 12 chroot (tests/fresh/run.sh)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX  ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR  ?= $(PREFIX)/share/man
BUILD   ?= build
CC      ?= cc
PYTHON  := /usr/bin/python3
VERSION := 0.1.0

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKGS := libcurl sqlite3 libconfig libpcre2-8 libhs gnutls libsystemd
# pkg-config is asked when a recipe first needs the flags, not when make reads this file:
# on a bare machine `make demo` reads the Makefile before `deps` has installed the .pc files
# (and pkg-config itself), so flags computed at parse time would be empty. Each variable
# replaces itself with its value on first use, so pkg-config runs once per make process.
# The targets that install packages (demo, test, asan, bench, eval) also build in a sub-make
# started after `deps`, so the order holds under -j as well.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(call pkg_config,--cflags))$(PKG_CFLAGS)
# libetpan: plain -letpan, not its pkg-config flags (they silently make the binary non-PIE).
# libstemmer (Snowball) ships no .pc file.
PKG_LIBS = $(eval PKG_LIBS := -letpan -lstemmer $$(call pkg_config,--libs) -lm)$(PKG_LIBS)
pkg_config = $(or $(shell pkg-config $(1) $(PKGS) 2>/dev/null),$(error pkg-config $(1) \
	failed for one of: $(PKGS) (run `make deps`, or see `pkg-config --cflags $(PKGS)`)))

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=c11 $(WARN) -D_GNU_SOURCE -DREDFLAGD_VERSION='"$(VERSION)"' \
            -DREDFLAGD_DATADIR='"$(PREFIX)/share/redflagd"' -Iinclude $(PKG_CFLAGS) \
            -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE $(CFLAGS) $(EXTRA_CFLAGS)
ALL_LDFLAGS := -pie -Wl,-z,relro,-z,now $(LDFLAGS) $(EXTRA_LDFLAGS)

SRC      := $(wildcard src/*.c)
LIB_OBJ  := $(SRC:%.c=$(BUILD)/obj/%.o)
DAEMON_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard daemon/*.c))
LIB      := $(BUILD)/libredflag.a
BIN      := $(BUILD)/redflagd
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# Debian packages for build, tests, bench and demo. Keep in step with README.md.
# procps: /bin/kill, which the units' ExecReload= runs (a bare Debian may lack it).
DEBS := build-essential pkg-config libetpan-dev libcurl4-gnutls-dev libsqlite3-dev sqlite3 \
        libconfig-dev libcmocka-dev libpcre2-dev libvectorscan-dev libgnutls28-dev libsystemd-dev \
        libsasl2-modules dovecot-imapd python3 python3-aiosmtpd isync openssl valgrind \
        cppcheck clang-format netcat-openbsd time tzdata mandoc man-db systemd \
        libstemmer-dev procps

.PHONY: all deps test unit integration asan lint bench eval model demo fresh install uninstall clean

all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(DAEMON_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(DAEMON_OBJ) $(LIB) $(PKG_LIBS)

$(UNIT_BIN): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS) -lcmocka

CLASSIFY_BENCH := $(BUILD)/tests/classify_bench

$(CLASSIFY_BENCH): $(BUILD)/obj/tests/bench/classify_bench.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

# Installs only what is missing, so a prepared machine skips apt entirely. Each failure
# is one line naming the step or the package, not a compiler error later on.
deps:
	@missing=$$(for p in $(DEBS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
		done | tr '\n' ' '); \
	[ -z "$$missing" ] && exit 0; \
	echo "deps: installing $$missing"; \
	if ! apt-get update -q --error-on=any; then \
		echo "deps: 'apt-get update' failed: no network, or the apt sources are wrong" >&2; \
		exit 1; \
	fi; \
	for p in $$missing; do \
		apt-cache show --no-all-versions $$p >/dev/null 2>&1 || absent="$$absent $$p"; \
	done; \
	if [ -n "$$absent" ]; then \
		echo "deps: not in the archive of this machine's apt sources:$$absent" >&2; \
		exit 1; \
	fi; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing || \
		{ echo "deps: 'apt-get install $$missing' failed" >&2; exit 1; }

unit: $(UNIT_BIN)
	$(Q)tests/run-unit $(UNIT_BIN)

integration: $(BIN)
	$(Q)$(PYTHON) tests/integration/run.py --binary $(BIN)

test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BIN)
	$(Q)$(MAKE) --no-print-directory unit integration

asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="-O1 -g" \
		EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" test

lint:
	$(Q)clang-format --dry-run --Werror $(SRC) $(wildcard daemon/*.c include/redflag/*.h tests/unit/*.c tests/unit/*.h)
	$(Q)cppcheck -q --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem -Iinclude -D_GNU_SOURCE src daemon
	$(Q)if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol)[[:space:]]*\(' \
		$(SRC) daemon/*.c; then echo "lint: banned function"; exit 1; fi
	@echo "lint: OK"

# The shared corpus is not part of the repository; a missing one is reported and skipped.
CORPUS ?= ../shared/corpus

# Rules alone (whole, development part, held-out part), rules + model under 5-fold
# cross-validation, and the owner layer's learning curve (tests/eval/cv.py).
eval: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(PYTHON) tests/eval/cv.py --binary $(BIN) --rules conf/rules \
		--train-extra $(CORPUS)/enron:$(ENRON_LABELS) $(CORPUS)/labeled tests/fixtures/labeled

# The shipped signal model, trained on the shared corpus and the fixtures. It is kept in
# git (a clean checkout, CI and a bare machine have no shared corpus to train on); training
# is deterministic, so `make model` on the same corpus reproduces the file byte for byte.
MODEL := conf/model/signals.model
# Our own labels for part of the shared corpus's unlabelled Enron mail (tests/eval/README.md):
# training data only, never scored.
ENRON_LABELS := tests/eval/enron-labels.csv

model: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)test -f $(CORPUS)/labeled/labels.csv || \
		{ echo "model: $(CORPUS)/labeled is missing (set CORPUS=)" >&2; exit 1; }
	$(Q)mkdir -p $(dir $(MODEL))
	$(Q)$(BIN) train --rules conf/rules --corpus $(CORPUS)/labeled \
		--corpus $(CORPUS)/enron --labels $(ENRON_LABELS) \
		--corpus tests/fixtures/labeled --out $(MODEL)

# Classification first (decoded text of the labelled fixtures and, when present, the shared
# corpus's real mail), then the import benchmark against mbsync.
BENCH_MAIL = tests/fixtures/labeled/messages $(wildcard $(CORPUS)/labeled/messages) \
	$(wildcard $(CORPUS)/enron/messages)

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(CLASSIFY_BENCH)
	@echo "classification benchmark"
	$(Q)$(CLASSIFY_BENCH) conf/rules 3 $(BENCH_MAIL)
	$(Q)$(PYTHON) tests/bench/bench.py --binary $(BIN)
	$(Q)$(PYTHON) tests/bench/digest_bench.py --binary $(BIN)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(PYTHON) tests/demo.py --binary $(BIN)

# Not part of `make test`: it debootstraps a bare Debian (cached after the first run).
fresh:
	$(Q)tests/fresh/run.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/redflagd
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/redflagd
	install -d $(DESTDIR)$(PREFIX)/share/redflagd/rules
	install -m 0644 conf/signals.conf $(DESTDIR)$(PREFIX)/share/redflagd/signals.conf
	install -d $(DESTDIR)$(PREFIX)/share/redflagd/templates
	install -m 0644 conf/templates/*.tmpl conf/templates/README.md \
		$(DESTDIR)$(PREFIX)/share/redflagd/templates/
	install -m 0644 conf/rules/*.conf conf/rules/README.md $(DESTDIR)$(PREFIX)/share/redflagd/rules/
	install -d $(DESTDIR)$(PREFIX)/share/redflagd/model
	install -m 0644 $(MODEL) $(DESTDIR)$(PREFIX)/share/redflagd/model/signals.model
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 docs/man/man8/redflagd.8 $(DESTDIR)$(MANDIR)/man8/redflagd.8
	install -m 0644 docs/man/man5/redflagd.conf.5 $(DESTDIR)$(MANDIR)/man5/redflagd.conf.5
	install -d $(DESTDIR)$(UNITDIR)
	for u in redflagd.service redflagd@.service; do \
		sed -e 's|/usr/local/bin/|$(PREFIX)/bin/|' -e 's|/etc/redflagd/|$(SYSCONFDIR)/redflagd/|g' \
			systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; \
	done
	# The config holds no secrets (passwords come from files or credentials) and the
	# service's dynamic user must read it: 0644. An existing one is never overwritten.
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/redflagd
	test -e $(DESTDIR)$(SYSCONFDIR)/redflagd/redflagd.conf || \
		install -m 0644 conf/redflagd.conf $(DESTDIR)$(SYSCONFDIR)/redflagd/redflagd.conf

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/redflagd
	rm -rf $(DESTDIR)$(PREFIX)/share/redflagd
	rm -f $(DESTDIR)$(MANDIR)/man8/redflagd.8 $(DESTDIR)$(MANDIR)/man5/redflagd.conf.5
	rm -f $(DESTDIR)$(UNITDIR)/redflagd.service $(DESTDIR)$(UNITDIR)/redflagd@.service

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) $(UNIT_SRC:tests/unit/%.c=$(BUILD)/obj/tests/unit/%.d)
