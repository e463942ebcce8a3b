# kiln — see README.md. `make deps` installs Debian packages; `make` builds ./kiln;
# `make test` builds and runs every suite; `make demo` runs kiln on a sample.

CC ?= cc
CFLAGS ?= -O2 -g
PYTHON_CONFIG ?= /usr/bin/python3-config
# Debian's CPython (the one libpython3.11 belongs to): compiles the runner at build time.
PYTHON ?= /usr/bin/python3
PKGS := libcurl jansson libseccomp xlsxwriter minizip expat libcrypto libmicrohttpd
# Linked at build time; libcurl and libmicrohttpd (headers only here) are
# loaded with dlopen() when first needed (src/lazylib.c).
LINK_PKGS := jansson libseccomp xlsxwriter minizip expat libcrypto

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wold-style-definition -Wpointer-arith -Wwrite-strings -Wformat=2 -Wvla -Wundef \
        -Wimplicit-fallthrough -fno-common -Wno-missing-field-initializers
HARDEN := -fstack-protector-strong -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now,-z,noexecstack

# gcc's truncation warning fires on every checked snprintf into a fixed buffer.
ifeq ($(findstring clang,$(shell $(CC) --version 2>/dev/null)),)
WARN += -Wno-format-truncation
endif

ifeq ($(WERROR),1)
WARN += -Werror
endif

ifneq ($(SANITIZE),)
BUILD ?= build-san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer \
            -DKILN_SANITIZE=1
else
BUILD ?= build
SANFLAGS :=
HARDEN += -D_FORTIFY_SOURCE=2
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null)
PY_CFLAGS = $(shell $(PYTHON_CONFIG) --includes 2>/dev/null)
PY_LIBS = $(shell $(PYTHON_CONFIG) --embed --ldflags 2>/dev/null)

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(SANFLAGS) $(CFLAGS) \
             -Isrc -Ioperations -Istorage -Isandbox -Itests -I$(BUILD)/gen $(PKG_CFLAGS) \
             $(PY_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(HARDEN_LD) $(SANFLAGS) $(LDFLAGS)
LIBS = $(PKG_LIBS) -lcsv $(PY_LIBS) -ldl -lpthread -lm

ifneq ($(V),1)
Q := @
endif

LIB_SRCS := $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard operations/*.c) \
            $(wildcard storage/*.c) $(wildcard sandbox/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := tests/harness.c $(wildcard tests/unit/t_*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPERS := $(HELPER_SRCS:tests/helpers/%.c=$(BUILD)/helpers/%)

.PHONY: fuzz fuzz-run all deps check-deps test check check-unit check-func check-samples demo clean \
        format format-check lint bench test-san man check-vm

all: kiln

deps:
	$(Q)sh mk/deps.sh

check-deps:
	$(Q)for p in $(PKGS); do pkg-config --exists $$p || { \
	    echo "kiln: missing library '$$p' — run 'make deps' (as root)" >&2; exit 1; }; done
	$(Q)test -x $(PYTHON_CONFIG) || { echo "kiln: missing $(PYTHON_CONFIG) — run 'make deps'" >&2; exit 1; }
	$(Q)test -f /usr/include/csv.h || { echo "kiln: missing libcsv — run 'make deps'" >&2; exit 1; }

$(BUILD)/libkiln.a: $(LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/kiln: $(BUILD)/src/main.o $(BUILD)/libkiln.a
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libkiln.a $(LIBS)

kiln: check-deps $(BUILD)/kiln
	$(Q)ln -sf $(BUILD)/kiln kiln

# The executeCode runner, compiled and marshalled (mk/runner_code.py).
%/gen/sbx_py_runner_code.h: sandbox/sbx_py.c mk/runner_code.py
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)$(PYTHON) mk/runner_code.py sandbox/sbx_py.c $@
$(BUILD)/sandbox/sbx_py.o: $(BUILD)/gen/sbx_py_runner_code.h
build-fuzz/sandbox/sbx_py.o: build-fuzz/gen/sbx_py_runner_code.h

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/unit/run: $(UNIT_OBJS) $(BUILD)/libkiln.a
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(UNIT_OBJS) $(BUILD)/libkiln.a $(LIBS)

# Small helper programs the tests run (never sanitized: some run in the sandbox).
$(BUILD)/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -o $@ $< -lpthread

check-unit: kiln $(BUILD)/tests/unit/run $(HELPERS)
	$(Q)KILN_BIN=$(CURDIR)/$(BUILD)/kiln KILN_HELPERS=$(CURDIR)/$(BUILD)/helpers $(BUILD)/tests/unit/run $(T)

check-func: kiln
	$(Q)KILN_BIN=$(CURDIR)/$(BUILD)/kiln /usr/bin/python3 tests/func/run.py $(T)

check-samples: kiln
	$(Q)KILN_BIN=$(CURDIR)/$(BUILD)/kiln /usr/bin/python3 tests/run_samples.py

# The whole suite; the last line is the total "N passed, N failed".
check: kiln $(BUILD)/tests/unit/run $(HELPERS)
	$(Q)BUILD=$(BUILD) sh tests/run_all.sh

test: deps
	$(Q)$(MAKE) --no-print-directory check

# The cgroup v2 layer with memory and pids controllers, on Debian's kernel
# under qemu (tests/vm/run.sh; root, downloads the kernel package once).
check-vm: kiln $(BUILD)/tests/unit/run
	$(Q)sh tests/vm/run.sh $(BUILD)

# The test suite under ASan+UBSan (separate build dir).
# The leak checker needs ptrace, which the sandbox forbids, and the embedded
# CPython keeps its arenas at exit: leaks are checked by the fuzzers instead.
test-san: deps
	$(Q)ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(MAKE) --no-print-directory SANITIZE=address,undefined CC=clang check

demo: deps
	$(Q)$(MAKE) --no-print-directory kiln
	$(Q)sh samples/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory kiln
	$(Q)sh bench/run.sh

# libFuzzer targets (clang): build-fuzz/fuzz_<name>; `make fuzz-run FUZZ_SECONDS=N` runs each.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
FUZZ_SECONDS ?= 20
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
              -DKILN_SANITIZE=1 -DKILN_FUZZ=1 -Isrc -Ioperations -Istorage -Isandbox -Ibuild-fuzz/gen \
              $(PKG_CFLAGS) $(PY_CFLAGS)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=build-fuzz/%.o)

build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (fuzz)"
	$(Q)clang $(FUZZ_CFLAGS) -c -o $@ $<

build-fuzz/libkiln.a: $(FUZZ_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libkiln.a
	@echo "  LD      $@"
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libkiln.a $(LIBS)

fuzz: check-deps $(FUZZ_BINS)

fuzz-run: fuzz
	$(Q)sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# The man page, generated from docs/cli.md (the one source of the CLI docs).
man: docs/kiln.1

docs/kiln.1: docs/cli.md mk/gen_man.py
	@echo "  GEN     $@"
	$(Q)/usr/bin/python3 mk/gen_man.py docs/cli.md $@

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	$(Q)clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

lint:
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	    -Isrc -Ioperations -Istorage -Isandbox src operations storage sandbox

clean:
	rm -rf build build-san build-fuzz kiln

-include $(LIB_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(BUILD)/src/main.d
