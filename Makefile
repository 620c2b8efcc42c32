# Skiff — top-level GNU Makefile.
#
#   make                 build every binary under build/bin
#   make check           the layering rule, then build and run every test suite (unit, integration, e2e)
#   make layering        only the layering rule (scripts/check-layering.sh)
#   make demo            bring up a local lab cluster and deploy the examples
#   make SANITIZE=address,undefined check
#   make format-check    clang-format conformance
#   make shellcheck      shellcheck of every shell script
#   make fuzz            build the libFuzzer harnesses (clang) and run them briefly
#
# Each folder contributes a `module.mk` fragment; objects go under $(BUILD).
# Missing Debian packages are installed by scripts/deps.sh the first time a
# target needs them (it writes $(BUILD)/config.mk from pkg-config).

SANITIZE ?=
ifneq ($(SANITIZE),)
BUILD ?= build/san
else
BUILD ?= build
endif

CC ?= gcc
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

PKGS := libseccomp libcap libnl-3.0 libnl-route-3.0 libprotobuf-c yaml-0.1 libcurl \
	openssl libevent libevent_openssl libarchive jansson

WARN := -Wall -Wextra -Wshadow -Wvla -Wformat=2 -Wmissing-prototypes -Werror
BASE_CFLAGS := -std=gnu17 -g -O2 -D_GNU_SOURCE -DSKIFF_VERSION='"$(VERSION)"' \
	-Ilib -I$(BUILD)/gen -MMD -MP
ifneq ($(SANITIZE),)
BASE_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -O1
SAN_LDFLAGS := -fsanitize=$(SANITIZE)
endif

# Goals that need no dependencies or configuration.
NOCONFIG_GOALS := clean format format-check shellcheck layering deps help
GOALS := $(or $(MAKECMDGOALS),all)
ifneq ($(filter-out $(NOCONFIG_GOALS),$(GOALS)),)
include $(BUILD)/config.mk
endif

$(BUILD)/config.mk: scripts/deps.sh Makefile
	@scripts/deps.sh
	@mkdir -p $(BUILD)
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs $(PKGS))"; \
	   echo "CHECK_CFLAGS := $$(pkg-config --cflags check)"; \
	   echo "CHECK_LIBS := $$(pkg-config --libs check)"; } > $@.tmp && mv $@.tmp $@

CFLAGS := $(BASE_CFLAGS) $(WARN) $(PKG_CFLAGS)
LDFLAGS += $(SAN_LDFLAGS)
LDLIBS := $(PKG_LIBS) -lm

.PHONY: all deps check unit integration e2e demo images fuzz bench install \
	format format-check shellcheck layering test-bins clean help
all:
.DEFAULT_GOAL := all

# Keep intermediate objects (test .o files) so rebuilds stay incremental.
.SECONDARY:

deps:
	@scripts/deps.sh

# --- generated protobuf-c code ------------------------------------------
GEN := $(BUILD)/gen
PROTO_C := $(GEN)/skiff.pb-c.c
PROTO_H := $(GEN)/skiff.pb-c.h
$(PROTO_C) $(PROTO_H) &: proto/skiff.proto
	@mkdir -p $(GEN)
	protoc-c --proto_path=proto --c_out=$(GEN) proto/skiff.proto
$(BUILD)/gen/skiff.pb-c.o: $(PROTO_C)
	$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) -w -c -o $@ $<

# --- generic rules -------------------------------------------------------
$(BUILD)/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# objs_of(folder): every .c in folder except main.c
objs_of = $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(1)/main.c,$(wildcard $(1)/*.c)))

LIBSKIFF := $(BUILD)/libskiff.a
TESTLIB := $(BUILD)/tests/libskifftest.a
MODULE_ARCHIVES :=
BINS :=
UNIT_TESTS :=
INTEGRATION_TESTS :=

# module(folder,binary): folder/*.c except main.c become $(BUILD)/folder.a
# (which unit tests link too); folder/main.c plus that archive becomes the
# binary $(BUILD)/bin/<binary>.
define module
$(1)_OBJS := $$(call objs_of,$(1))
$(BUILD)/$(1).a: $$($(1)_OBJS)
	@mkdir -p $$(@D)
	@rm -f $$@ && ar rcs $$@ $$^
MODULE_ARCHIVES += $(BUILD)/$(1).a
ifneq ($$(wildcard $(1)/main.c),)
BINS += $(BUILD)/bin/$(2)
$(BUILD)/bin/$(2): $(BUILD)/$(1)/main.o $(BUILD)/$(1).a $$(LIBSKIFF)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o %.a,$$^) $$(LDLIBS)
endif
endef

include lib/module.mk
include runtime/module.mk
include orchestrator/module.mk
include hollow/module.mk
include agent/module.mk
include ctl/module.mk
include examples/module.mk
include tests/module.mk
include fuzz/module.mk
include bench/module.mk
include scripts/module.mk

all: $(BINS)

-include $(shell find $(BUILD) -path $(BUILD)/lab -prune -o -name '*.d' -type f -print 2>/dev/null)

# --- tests ---------------------------------------------------------------
check: all $(UNIT_TESTS) $(INTEGRATION_TESTS) $(CHECK_EXTRA) layering
	@BUILD=$(BUILD) tests/run.sh all

# The one-way include rule (docs/architecture.md, "Layering"): a forbidden
# #include fails with its FILE:LINE; the script proves first that it can.
layering:
	@scripts/check-layering.sh --self-test && scripts/check-layering.sh

# build every test binary and fixture without running anything
test-bins: all $(UNIT_TESTS) $(INTEGRATION_TESTS) $(CHECK_EXTRA)

unit: $(UNIT_TESTS)
	@BUILD=$(BUILD) tests/run.sh unit

integration: all $(INTEGRATION_TESTS) $(CHECK_EXTRA)
	@BUILD=$(BUILD) tests/run.sh integration

e2e: all $(CHECK_EXTRA)
	@BUILD=$(BUILD) tests/run.sh e2e

demo: all $(CHECK_EXTRA)
	@BUILD=$(BUILD) scripts/demo.sh

# --- install -------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	for u in docs/systemd/*.service; do [ -e "$$u" ] || continue; \
		sed 's|@BINDIR@|$(PREFIX)/bin|g' "$$u" >"$(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/}" && \
		chmod 0644 "$(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/}" || exit 1; done
	install -m 0755 scripts/skiff-lab $(DESTDIR)$(PREFIX)/bin/skiff-lab
	install -m 0644 scripts/skiff-lab-vm $(DESTDIR)$(PREFIX)/bin/skiff-lab-vm

# --- formatting ----------------------------------------------------------
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	@command -v clang-format >/dev/null || scripts/deps.sh
	@clang-format --dry-run --Werror $(FORMAT_SRCS) && echo "format-check: ok"

# Every shell script, at shellcheck's warning level: warnings and errors fail;
# info and style notes (quoting an integer port, `a && b || fail`, a single-
# quoted `sh -c` body meant for the container's shell) are advice. Sourced
# libraries are followed (-x, with .shellcheckrc's source-path=SCRIPTDIR).
SHELL_SRCS = $(shell git ls-files '*.sh' scripts/skiff-lab scripts/skiff-lab-vm scripts/skiff-lab-image .ci/run 2>/dev/null || \
	find . -name '*.sh' -not -path './build/*' -not -path './node_modules/*')
shellcheck:
	@command -v shellcheck >/dev/null || scripts/deps.sh
	@shellcheck -x -S warning $(SHELL_SRCS) && echo "shellcheck: ok ($(words $(SHELL_SRCS)) scripts)"

clean:
	rm -rf build

help:
	@sed -n '3,11p' Makefile
