# examples/ — the demo workloads (gateway, queue, fanout, replica) and the demo image.
#
# Every examples/<demo>/<program>.c (and examples/tools/httpload.c; pause.c is libc only, below) is one program linked with the shared code
# in examples/common/ into $(BUILD)/examples/bin/<program>. They link statically
# (libevent's and jansson's static archives) so the demo image needs nothing but
# busybox-static beside them. A sanitizer build links them dynamically instead
# (ASan cannot be static); its image is not meant to run in a container.
#
# `make images` builds $(BUILD)/images/skiff-demo:1/ (a rootfs) and
# $(BUILD)/images/skiff-demo:1.tar, incrementally (a stamp file tracks inputs).
EX_PKGS := libevent jansson
EX_CFLAGS := $(shell pkg-config --cflags $(EX_PKGS) 2>/dev/null)
EX_COMMON_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard examples/common/*.c))
EX_SRCS := $(wildcard examples/gateway/*.c examples/queue/*.c examples/fanout/*.c \
	examples/replica/*.c examples/tools/*.c)
EX_PROGS := $(notdir $(basename $(EX_SRCS)))
EX_BINS := $(addprefix $(BUILD)/examples/bin/,$(EX_PROGS))
# The static archives need libevent_extra (evhttp) before libevent_core.
# -Wl,-w: glibc's static getaddrinfo warning does not apply (numeric addresses only).
ifneq ($(SANITIZE),)
EX_LDFLAGS := $(LDFLAGS)
else
EX_LDFLAGS := $(LDFLAGS) -static -Wl,-w
endif
EX_LIBS := -levent_extra -levent_core -ljansson -lhttp_parser -lm

$(BUILD)/examples/%.o: CFLAGS += $(EX_CFLAGS) -Iexamples/common

define example_prog
$(BUILD)/examples/bin/$(notdir $(basename $(1))): $(BUILD)/$(1:.c=.o) $(EX_COMMON_OBJS) $(LIBSKIFF)
	@mkdir -p $$(@D)
	$$(CC) $$(EX_LDFLAGS) -o $$@ $$(filter %.o %.a,$$^) $$(EX_LIBS)
endef
$(foreach s,$(filter-out examples/tools/pause.c,$(EX_SRCS)),$(eval $(call example_prog,$(s))))
# pause needs nothing but libc (not the demos' shared code, libevent, jansson)
$(BUILD)/examples/bin/pause: $(BUILD)/examples/tools/pause.o
	@mkdir -p $(@D)
	$(CC) $(EX_LDFLAGS) -o $@ $<

all: $(EX_BINS)

# --- the demo image --------------------------------------------------------
IMAGE_NAME := skiff-demo:1
IMAGE_DIR := $(BUILD)/images
IMAGE_STAMP := $(IMAGE_DIR)/.skiff-demo-1.stamp
BUSYBOX := /bin/busybox

images: $(IMAGE_STAMP)

$(IMAGE_STAMP): $(EX_BINS) examples/common/mkimage.sh scripts/oci-image.py
	@[ -x $(BUSYBOX) ] || scripts/deps.sh busybox-static
	examples/common/mkimage.sh "$(IMAGE_DIR)" "$(IMAGE_NAME)" $(BUSYBOX) $(EX_BINS)
	@touch $@


# The durable log's test links the demos' shared code (all of it: http1.o
# needs http_parser too) and the test library.
$(BUILD)/tests/integration/test_examples_dlog.o: CFLAGS += $(EX_CFLAGS) -Iexamples/common
$(BUILD)/tests/integration/test_examples_dlog: $(BUILD)/tests/integration/test_examples_dlog.o \
		$(TESTLIB) $(EX_COMMON_OBJS) $(LIBSKIFF)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS) -ljansson -lhttp_parser

# The gateway's HTTP/1.1 messages' test, likewise.
$(BUILD)/tests/integration/test_examples_http1.o: CFLAGS += $(EX_CFLAGS) -Iexamples/common
$(BUILD)/tests/integration/test_examples_http1: $(BUILD)/tests/integration/test_examples_http1.o \
		$(TESTLIB) $(EX_COMMON_OBJS) $(LIBSKIFF)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS) -ljansson -lhttp_parser

# tests/e2e/demos.sh runs the demos on the lab: `make check` builds the image.
CHECK_EXTRA += $(IMAGE_STAMP)
