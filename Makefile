# SPDX-License-Identifier: Apache-2.0
# Loom build. `make` builds build/loom; `make test` runs every test; `make demo`
# starts the daemon with a simulated plant; `make bench` runs the side-by-side
# benchmarks; `make fuzz` runs every libFuzzer target briefly.
# `make SANITIZE=address,undefined test` builds and tests under ASan+UBSan.

CC ?= cc
BUILD ?= build
SANITIZE ?=
WERROR ?= $(if $(CI),-Werror,)
PKGS := libuv libzstd zlib jansson libxxhash openssl libsodium sqlite3

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
        -Wpointer-arith -Wvla -Wformat=2 $(WERROR)
OPT ?= -O2 -g
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Isrc -pthread \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
# libwslay: Debian 12 ships no .pc file; fall back to -lwslay
WSLAY_LIBS := $(shell pkg-config --libs libwslay 2>/dev/null || echo -lwslay)
LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(WSLAY_LIBS) -lhttp_parser -lm -pthread
ifneq ($(SANITIZE),)
  CFLAGS_ALL += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=$(SANITIZE)
endif
OUT := $(BUILD)$(if $(SANITIZE),-san,)

LIB_SRC := $(shell find src -name '*.c' ! -name main.c | sort)
LIB_OBJ := $(LIB_SRC:%.c=$(OUT)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(OUT)/bench/%)

.PHONY: all deps test unit integration demo bench fuzz clean
all: $(OUT)/loom $(BENCH_BIN)

deps:
	@scripts/deps.sh test

$(OUT)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(OUT)/libloom.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(OUT)/loom: $(OUT)/src/main.o $(OUT)/libloom.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(OUT)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(OUT)/libloom.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(OUT)/libloom.a $(LDFLAGS) $(LIBS) -lcmocka

$(OUT)/bench/%: bench/%.c $(OUT)/libloom.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(OUT)/libloom.a $(LDFLAGS) $(LIBS)

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@LOOM_BIN=$(abspath $(OUT)/loom) BUILD=$(OUT) tests/run.sh $(UNIT_BIN)

unit: $(UNIT_BIN)
	@BUILD=$(OUT) tests/run.sh --unit-only $(UNIT_BIN)

demo:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory $(OUT)/loom
	$(OUT)/loom demo

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	BUILD=$(OUT) bench/run.sh

# libFuzzer targets: clang, ASan+UBSan, every library source compiled in.
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -pthread -fsanitize=fuzzer,address,undefined \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_SECONDS ?= 20
fuzz: deps
	@mkdir -p $(FUZZ_BUILD)
	@set -e; for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); \
	  echo "== $$n"; \
	  clang $(FUZZ_CFLAGS) -o $(FUZZ_BUILD)/$$n $$f $(LIB_SRC) $(LIBS); \
	  mkdir -p $(FUZZ_BUILD)/corpus-$$n; \
	  $(FUZZ_BUILD)/$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    $(FUZZ_BUILD)/corpus-$$n tests/fuzz/corpus/$$n; \
	done

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(OUT) -name '*.d' 2>/dev/null)
