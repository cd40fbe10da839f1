# retryrun: build, test, demo, bench, asan, install.
# `make demo` and `make test` install missing Debian packages themselves.

PKG_CONFIG ?= pkg-config
LUA_PC     ?= lua5.4
CC         ?= cc
PREFIX     ?= /usr/local
DESTDIR    ?=
BUILD      ?= build

VERSION    := 0.1.0
LUADIR      = $(PREFIX)/share/retryrun/lua

PKGS       := $(LUA_PC) libcurl libmicrohttpd zlib
# lua-cjson: the specs' own JSON reader, independent of retryrun's (which
# scripts and json= use); libxml2-utils (xmllint) and perl (TAP::Parser):
# the readers the specs check --report's JUnit and TAP with; xz-utils and
# patch: what unpacks Debian's Lua source (scripts/lua-lto.sh); clang, for
# make fuzz, is optional.
DEBS       := liblua5.4-dev lua5.4 libcurl4-openssl-dev lua-cjson lua-busted \
              libmicrohttpd-dev zlib1g-dev pkg-config curl python3 libxml2-utils \
              perl xz-utils patch
BENCH_DEBS := nginx-light wrk python3-requests python3-tenacity gnuplot-nox \
              valgrind openssl

WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
override CFLAGS += -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN)
LUA_CFLAGS   = $(shell $(PKG_CONFIG) --cflags $(LUA_PC) 2>/dev/null)
LUA_LIBS     = $(shell $(PKG_CONFIG) --libs $(LUA_PC) 2>/dev/null)
CURL_CFLAGS  = $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CURL_LIBS    = $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null)
MHD_CFLAGS   = $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS     = $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null)
# zlib: todo-server's /_gzip; retryrun itself never links it
ZLIB_CFLAGS  = $(shell $(PKG_CONFIG) --cflags zlib 2>/dev/null)
ZLIB_LIBS    = $(shell $(PKG_CONFIG) --libs zlib 2>/dev/null)

# Lua linked statically where the static library is there; else, or with
# LUA_STATIC=no, the shared library. The static Lua is built here from
# the installed liblua5.4-dev's own Debian source, with link-time
# optimisation across Lua and retryrun, so that the API calls of a
# request inline: $(BUILD)/lua/liblua.a, made by scripts/lua-lto.sh,
# which falls back to a copy of Debian's liblua5.4.a (built without LTO)
# where it cannot, and made again when Debian's changes; LUA_LTO=no
# links Debian's as it is.
LUA_STATIC  ?= yes
LUA_LTO     ?= yes
LUA_DEB_A    = $(if $(filter yes,$(LUA_STATIC)),$(shell \
                 a=$$($(PKG_CONFIG) --variable=libdir $(LUA_PC) 2>/dev/null)/lib$(LUA_PC).a; \
                 [ -r "$$a" ] && echo "$$a"))
LUA_LTO_A    = $(if $(filter yes,$(LUA_STATIC)),$(if $(filter yes,$(LUA_LTO)),$(BUILD)/lua/liblua.a))
LUA_A        = $(if $(LUA_DEB_A),$(or $(LUA_LTO_A),$(LUA_DEB_A)))
LTO          = $(if $(LUA_A),-flto=auto)
# What links Lua is remade when the library is, and when LUA_STATIC or
# LUA_LTO changes ($(BUILD)/lua/choice holds them, rewritten only then).
# The link says which Lua it took.
LUA_DEPS     = $(BUILD)/lua/choice $(LUA_LTO_A)
LUA_CHOICE  := static=$(LUA_STATIC) lto=$(LUA_LTO)
LUA_WHAT     = $(if $(LUA_A),$(if $(LUA_LTO_A),$(LUA_WHAT_LTO),$(LUA_WHAT_DEB)),$(LUA_WHAT_SO))
LUA_WHAT_LTO = $$(cat $(LUA_LTO_A).what 2>/dev/null || echo $(LUA_LTO_A))
LUA_WHAT_DEB = Debian's liblua5.4.a (LUA_LTO=$(LUA_LTO))
LUA_WHAT_SO  = the shared liblua5.4 (LUA_STATIC=$(LUA_STATIC))
# A static Lua exports its API, so that the C modules a script loads
# (cjson.so, lfs.so: they link no Lua of their own) find it in retryrun.
LUA_EXPORT  := -Wl,--export-dynamic-symbol='lua_*' -Wl,--export-dynamic-symbol='luaL_*'
LUA_LINK     = $(if $(LUA_A),$(LUA_EXPORT) $(LUA_A),$(LUA_LIBS))

Q = @
ifeq ($(V),1)
Q =
endif

RETRYRUN_SRC := $(wildcard src/*.c)
TODO_SRC     := $(wildcard src/todo/*.c)
CTEST_SRC    := $(wildcard spec/c/test_*.c)

RETRYRUN_OBJ := $(RETRYRUN_SRC:src/%.c=$(BUILD)/obj/%.o) \
                $(BUILD)/obj/gen/lua_modules.o
LUA_MODULES  := $(sort $(wildcard lua/retryrun/*.lua))
TODO_OBJ     := $(TODO_SRC:src/todo/%.c=$(BUILD)/obj/todo/%.o)
CTESTS       := $(CTEST_SRC:spec/c/%.c=$(BUILD)/%)

# libFuzzer targets: each is a harness spec/fuzz/fuzz_NAME.c, built with
# the sources it tests (one line a target, below), run from the seed
# corpus spec/fuzz/corpus/NAME/. `make fuzz` runs each FUZZ_SECONDS;
# `make test` runs each FUZZ_SHORT seconds when FUZZ_CC is there.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SHORT   ?= 3
FUZZ_DIR     ?= build/fuzz
FUZZ_CFLAGS  := -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
                $(WARN) -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZERS      := $(patsubst spec/fuzz/fuzz_%.c,$(FUZZ_DIR)/fuzz_%,\
                  $(wildcard spec/fuzz/fuzz_*.c))

.PHONY: all deps bench-deps docs-deps man test asan demo bench install \
        clean fuzz fuzzers FORCE

# A recipe that fails leaves no target behind: a fuzz target that no longer
# builds must be reported as such, not run from an older build.
.DELETE_ON_ERROR:

all: $(BUILD)/retryrun $(BUILD)/todo-server $(CTESTS)

# Installs what pkg-config (or, for Lua modules, lua5.4) cannot find.
deps:
	$(Q)missing=""; \
	for p in $(PKGS); do $(PKG_CONFIG) --exists $$p 2>/dev/null || missing=1; done; \
	command -v busted >/dev/null 2>&1 || missing=1; \
	command -v lua5.4 >/dev/null 2>&1 || missing=1; \
	command -v curl >/dev/null 2>&1 || missing=1; \
	command -v python3 >/dev/null 2>&1 || missing=1; \
	command -v xmllint >/dev/null 2>&1 || missing=1; \
	command -v xz >/dev/null 2>&1 || missing=1; \
	command -v patch >/dev/null 2>&1 || missing=1; \
	perl -MTAP::Parser -e 1 >/dev/null 2>&1 || missing=1; \
	[ -e /usr/lib/x86_64-linux-gnu/lua/5.4/cjson.so ] || \
	  ls /usr/lib/*/lua/5.4/cjson.so >/dev/null 2>&1 || missing=1; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing $(DEBS)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq $(DEBS) >/dev/null; \
	fi

bench-deps: deps
	$(Q)missing=""; \
	for c in nginx wrk gnuplot valgrind openssl; do command -v $$c >/dev/null 2>&1 || missing=1; done; \
	/usr/bin/python3 -c 'import requests, tenacity' 2>/dev/null || missing=1; \
	if [ -n "$$missing" ]; then \
	  echo "bench-deps: installing $(BENCH_DEBS)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq $(BENCH_DEBS) >/dev/null; \
	fi

# scdoc renders the man page; only `make man` and `make install` need it.
docs-deps:
	$(Q)command -v scdoc >/dev/null 2>&1 || { \
	  echo "docs-deps: installing scdoc"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq scdoc >/dev/null; }

man: $(BUILD)/retryrun.1

$(BUILD)/retryrun.1: docs/retryrun.1.scd | docs-deps
	@mkdir -p $(dir $@)
	@echo "  SCDOC   $@"
	$(Q)scdoc <$< >$@

$(BUILD)/obj/%.o: src/%.c $(BUILD)/lua/choice | deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(LTO) $(LUA_CFLAGS) $(CURL_CFLAGS) \
	  -DRETRYRUN_VERSION='"$(VERSION)"' -DRETRYRUN_LUADIR='"$(LUADIR)"' \
	  -MMD -MP -c $< -o $@

# retryrun's Lua modules as bytecode in the binary (src/lua_embed.h), made
# by a tool built with the same Lua; remade when a module changes.
$(BUILD)/lua_bytecode: src/gen/lua_bytecode.c src/lua_embed.h $(LUA_DEPS) | deps
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LUA_CFLAGS) $(LDFLAGS) $< -o $@ \
	  $(if $(LUA_A),$(LUA_A),$(LUA_LIBS)) -ldl -lm

$(BUILD)/gen/lua_modules.c: $(BUILD)/lua_bytecode $(LUA_MODULES)
	@mkdir -p $(dir $@)
	@echo "  LUAC    $@"
	$(Q)$(BUILD)/lua_bytecode $@ $(LUA_MODULES)

$(BUILD)/obj/gen/lua_modules.o: $(BUILD)/gen/lua_modules.c src/lua_embed.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(LTO) $(LUA_CFLAGS) -Isrc -c $< -o $@

$(BUILD)/obj/todo/%.o: src/todo/%.c | deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(MHD_CFLAGS) $(ZLIB_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/lua/liblua.a: scripts/lua-lto.sh $(LUA_DEB_A) | deps
	$(Q)sh scripts/lua-lto.sh $@ "$(LUA_DEB_A)" "$(CC)" "$(CFLAGS) $(LUA_CFLAGS)" \
	  "$(LDFLAGS)"

$(BUILD)/lua/choice: FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = "$(LUA_CHOICE)" ] || echo "$(LUA_CHOICE)" >$@

$(BUILD)/retryrun: $(RETRYRUN_OBJ) $(LUA_DEPS)
	@echo "  LD      $@ (Lua: $(LUA_WHAT))"
	$(Q)$(CC) $(CFLAGS) $(LTO) $(LDFLAGS) $(RETRYRUN_OBJ) -o $@ $(LUA_LINK) -ldl -lm

$(BUILD)/todo-server: $(TODO_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(MHD_LIBS) $(ZLIB_LIBS) -lm

# C unit tests link the pure parts they test, nothing else.
$(BUILD)/test_policy: spec/c/test_policy.c $(BUILD)/obj/policy.o
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -Isrc $^ -o $@ -lm

$(BUILD)/test_guard: spec/c/test_guard.c $(BUILD)/obj/guard.o \
                     $(BUILD)/obj/policy.o $(BUILD)/obj/dynbuf.o
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -Isrc $^ -o $@ -lm

$(BUILD)/test_redact: spec/c/test_redact.c $(BUILD)/obj/redact.o \
                      $(BUILD)/obj/redact_text.o \
                      $(BUILD)/obj/dynbuf.o
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -Isrc $^ -o $@

$(BUILD)/test_ratelimit: spec/c/test_ratelimit.c $(BUILD)/obj/ratelimit.o \
                         $(BUILD)/obj/chaos.o $(BUILD)/obj/url.o \
                         $(BUILD)/obj/policy.o
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -Isrc $^ -o $@ -lm

$(BUILD)/test_transfer: spec/c/test_transfer.c $(BUILD)/obj/transfer.o \
                        $(BUILD)/obj/transfer_class.o \
                        $(BUILD)/obj/transfer_wire.o \
                        $(BUILD)/obj/transfer_recv.o \
                        $(BUILD)/obj/policy.o $(BUILD)/obj/curlapi.o \
                        $(BUILD)/obj/dynbuf.o $(BUILD)/obj/mime.o
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(CURL_CFLAGS) -Isrc $^ -o $@ -ldl -lm

$(BUILD)/test_pool: spec/c/test_pool.c $(BUILD)/obj/pool.o
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -Isrc $^ -o $@

# The sources each fuzz target tests.
JSON_SRC := src/lua_json.c src/lua_json_decode.c src/lua_json_unescape.c \
            src/lua_json_encode.c src/lua_json_lazy.c src/lua_json_lazy_mt.c \
            src/lua_json_raw.c \
            src/json_scan.c
$(FUZZ_DIR)/fuzz_json_decode:    $(JSON_SRC)
$(FUZZ_DIR)/fuzz_json_roundtrip: $(JSON_SRC)
$(FUZZ_DIR)/fuzz_json_encode:    $(JSON_SRC)
$(FUZZ_DIR)/fuzz_retry_after:    src/policy.c
$(FUZZ_DIR)/fuzz_redact:         src/redact.c src/redact_text.c src/dynbuf.c

$(FUZZ_DIR)/fuzz_%: spec/fuzz/fuzz_%.c $(wildcard src/*.h) | deps
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(LUA_CFLAGS) -Isrc $(filter %.c,$^) \
	  -o $@ $(LUA_LIBS) -lm

fuzzers: $(FUZZERS)

fuzz: fuzzers
	$(Q)FUZZ_KEEP=1 sh spec/fuzz/run $(FUZZ_SECONDS) $(FUZZERS)

# Every C test, a short run of each fuzz target (when FUZZ_CC is there) and
# every busted spec, each counted; the last line is ours. A fuzz target
# that does not build is reported by spec/run, not here.
test: all
	$(Q)if command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory fuzzers || true; fi
	$(Q)BUILD=$(BUILD) CTESTS="$(CTESTS)" FUZZ_CC="$(FUZZ_CC)" \
	  FUZZERS="$(FUZZERS)" FUZZ_SECONDS=$(FUZZ_SHORT) sh spec/run

asan:
	$(Q)$(MAKE) BUILD=build-asan LUA_STATIC=no \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" test

demo: all
	$(Q)sh scripts/demo.sh $(BUILD)

bench: all bench-deps
	$(Q)sh scripts/bench/run.sh $(BUILD)

install: $(BUILD)/retryrun $(BUILD)/todo-server $(BUILD)/retryrun.1
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LUADIR)/retryrun \
	  $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/retryrun $(BUILD)/todo-server $(DESTDIR)$(PREFIX)/bin/
	install -m 644 lua/retryrun/*.lua $(DESTDIR)$(LUADIR)/retryrun/
	install -m 644 $(BUILD)/retryrun.1 $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf build build-asan

FORCE:

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/obj/todo/*.d)
