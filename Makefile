# itkd: GNU make. `make`, `make check`, `make run`, `make static [TARGET=]`,
# `make check-cross`, `make bench`, `make fuzz`, `make install`,
# `make install-static`, `make clean`.

VERSION  = 0.1
CC      ?= cc
# CC, CPPFLAGS, CFLAGS and LDFLAGS belong to the caller (a packager's
# `make CC=... CFLAGS=...`, or the environment): what itkd needs to build at
# all sits in ITKD_* and is added to them, never overridden by them.
CFLAGS  ?= -O2 -g
ITKD_CPPFLAGS = -D_GNU_SOURCE -DITKD_VERSION='"$(VERSION)"'
ITKD_CFLAGS   = -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -fno-strict-aliasing
ITKD_LDFLAGS  =
# Warnings are errors in `make check` (and so in CI), not in a plain build:
# a packager's next compiler must not break the build over a new warning.
WERROR  =
LDLIBS  += -lbearssl -lcap -lcrypt

# Objects live in a directory per flavour, so a sanitizer build and a plain
# one (or two engineers building both) never mix objects.
O        = build/obj
ifeq ($(SANITIZE),1)
O        = build/asan
ITKD_CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ITKD_LDFLAGS += -fsanitize=address,undefined
# Every report of every process (children under any uid too) lands in
# tests/tmp/san/, and tests/run.sh counts each as a failure.
export ASAN_OPTIONS  = log_path=$(CURDIR)/tests/tmp/san/report
export UBSAN_OPTIONS = log_path=$(CURDIR)/tests/tmp/san/report:print_stacktrace=1
endif

ALL_CFLAGS  = $(ITKD_CPPFLAGS) $(CPPFLAGS) $(ITKD_CFLAGS) $(WERROR) $(CFLAGS)
ALL_LDFLAGS = $(ITKD_LDFLAGS) $(LDFLAGS)
# $(O)/.flags holds the compiler and flags the objects were built with; when
# they change (WERROR in `make check`, a packager's CFLAGS) it changes, and
# everything that depends on it is rebuilt instead of silently mixed.
FLAGS_STAMP := $(shell mkdir -p $(O) && c='$(subst ','\'',$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS))' && \
    { [ "$$(cat $(O)/.flags 2>/dev/null)" = "$$c" ] || printf '%s\n' "$$c" > $(O)/.flags; } && echo $(O)/.flags)

SRC  = alloc.c clock.c itkd.c score.c serve.c gate.c proxy.c conn.c body.c http.c vhost.c priv.c path.c file.c cgi.c log.c tls.c access.c auth.c handoff.c sig.c spawn.c
OBJ  = $(SRC:%.c=$(O)/%.o)
HDR  = $(wildcard *.h)
# itkd -t's check of the CGI programs' system call ABI
SRC += cgiabi.c elfabi.c

UNIT = $(patsubst %.c,%,$(wildcard tests/unit_*.c))
HELPERS = $(patsubst %.c,%,$(wildcard tests/helpers/*.c))

all: itkd

# -z now: the master resolves every symbol once, so no forked child pays
# for lazy binding on each connection.
itkd: $(OBJ)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Wl,-z,now -Wl,-z,relro -o $@ $(OBJ) $(LDLIBS)

$(O)/%.o: %.c $(HDR) $(FLAGS_STAMP)
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Unit tests link only the file they test (plus the leaves it needs).
tests/unit_http: tests/unit_http.c $(O)/http.o $(O)/clock.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(O)/http.o $(O)/clock.o
tests/unit_vhost: tests/unit_vhost.c $(O)/vhost.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(O)/vhost.o
tests/unit_path: tests/unit_path.c $(O)/path.o $(O)/vhost.o $(O)/http.o $(O)/priv.o $(O)/clock.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(O)/path.o $(O)/vhost.o $(O)/http.o $(O)/priv.o $(O)/clock.o -lcap
tests/unit_priv: tests/unit_priv.c $(O)/priv.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(O)/priv.o -lcap
tests/unit_tls: tests/unit_tls.c $(O)/tls.o $(O)/vhost.o $(O)/log.o $(O)/http.o $(O)/clock.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(O)/tls.o $(O)/vhost.o $(O)/log.o $(O)/http.o $(O)/clock.o -lbearssl
# cgi.c calls into conn.c, body.c, log.c...: everything but main.
tests/unit_cgi: tests/unit_cgi.c $(filter-out $(O)/itkd.o,$(OBJ)) tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(filter-out $(O)/itkd.o,$(OBJ)) $(LDLIBS)
# Every fuzz target replays its corpus and regressions without libFuzzer:
# tests/fuzz/replay.c is its main(); tests/unit_fuzzregress runs them all.
FUZZ_REPLAY = $(patsubst tests/fuzz/fuzz_%.c,tests/fuzz/bin/replay_%,$(wildcard tests/fuzz/fuzz_*.c))
tests/unit_fuzzregress: tests/unit_fuzzregress.c $(FUZZ_REPLAY)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<
tests/fuzz/bin/replay_%: tests/fuzz/replay.c tests/fuzz/fuzz_%.c $(filter-out $(O)/itkd.o,$(OBJ))
	@mkdir -p tests/fuzz/bin
	$(CC) $(ALL_CFLAGS) -I. -DFUZZ_NAME='"$*"' $(ALL_LDFLAGS) -o $@ tests/fuzz/replay.c tests/fuzz/fuzz_$*.c $(filter-out $(O)/itkd.o,$(OBJ)) $(LDLIBS)
# access.c answers through file.c, conn.c...: everything but main.
tests/unit_access: tests/unit_access.c $(filter-out $(O)/itkd.o,$(OBJ)) tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(filter-out $(O)/itkd.o,$(OBJ)) $(LDLIBS)
tests/unit_conn: tests/unit_conn.c $(O)/conn.o $(O)/tls.o $(O)/vhost.o $(O)/log.o $(O)/http.o $(O)/clock.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(O)/conn.o $(O)/tls.o $(O)/vhost.o $(O)/log.o $(O)/http.o $(O)/clock.o -lbearssl
tests/unit_proxy: tests/unit_proxy.c $(O)/proxy.o $(O)/clock.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(O)/proxy.o $(O)/clock.o
tests/unit_alloc: tests/unit_alloc.c $(O)/alloc.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(O)/alloc.o
tests/unit_score: tests/unit_score.c $(O)/score.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(O)/score.o
tests/unit_handoff: tests/unit_handoff.c $(O)/handoff.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(O)/handoff.o
# The binaries live outside $(O): build/flavour names the flavour they were
# last linked in, and changes (relinking them) when SANITIZE or O does.
FLAVOUR := $(shell mkdir -p build && { [ "$$(cat build/flavour 2>/dev/null)" = "$(O)" ] || echo "$(O)" > build/flavour; } && echo build/flavour)
itkd $(UNIT) $(HELPERS) $(FUZZ_REPLAY): $(FLAVOUR)
itkd $(UNIT) $(FUZZ_REPLAY): $(FLAGS_STAMP)
# Test tools, not the project's code: built without the sanitizers, since
# credcheck runs set-user-ID root and the sanitizer runtime refuses that.
tests/helpers/%: tests/helpers/%.c
	$(CC) $(filter-out -fsanitize%,$(ALL_CFLAGS)) $(filter-out -fsanitize%,$(ALL_LDFLAGS)) -o $@ $<

deps:
	@sh scripts/deps

# make fuzz [FUZZ_SECONDS=60]: clang + libFuzzer on every tests/fuzz/fuzz_*.c.
fuzz:
	@sh scripts/fuzz

check: deps
	@$(MAKE) --no-print-directory WERROR=-Werror itkd $(UNIT) $(HELPERS)
	@sh tests/run.sh

run: deps itkd
	@sh scripts/demo

clean:
	rm -f itkd itkd-static $(STATIC_TARGETS:%=itkd-static-%) *.o $(UNIT) $(HELPERS)
	rm -rf tests/fuzz/bin
	rm -rf build/obj build/asan
	rm -rf tests/tmp

# make static [TARGET=x86_64|aarch64|armhf|armel|mipsel|mips]: scripts/static
# builds musl, BearSSL and libcap for TARGET (default: this machine's) from
# Debian's source packages into build/static/TARGET, then makes
# itkd-static-TARGET with that musl's CC and TARGET's STRIP, O=build/static/
# TARGET/obj: the same SRC, linked statically, stripped; and a static
# unit_priv for TARGET. `make static-sizes`: each built binary against its
# size limit.
STRIP ?= strip
STATIC_TARGETS = x86_64 aarch64 armhf armel mipsel mips
static static-unit:
	@sh scripts/static $(TARGET)
static-sizes:
	@sh scripts/static-sizes

# The link map (which input section went where) is what bench/hot-text.py
# reads to name the code a connection runs.
itkd-static $(STATIC_TARGETS:%=itkd-static-%): $(OBJ)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -static -Wl,-Map=$(O)/$@.map -o $@ $(OBJ) $(LDLIBS)
	$(STRIP) --strip-all -R .comment $@
$(O)/unit_priv: tests/unit_priv.c $(O)/priv.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -static -o $@ $< $(O)/priv.o -lcap

# make check-cross [TARGETS="aarch64 armhf ..."]: every static target on
# Debian's own kernel for it in qemu-system: two vhosts under two uids, the
# serving processes' credentials, unit_priv, the size limit
# (scripts/check-cross).
check-cross:
	@python3 scripts/check-cross $(TARGETS)

# The ELF classifier on crafted headers (elfabi.c is a leaf).
tests/unit_elf: tests/unit_elf.c $(O)/elfabi.o tests/unit.h
	$(CC) $(ALL_CFLAGS) -I. $(ALL_LDFLAGS) -o $@ $< $(O)/elfabi.o

# make install [PREFIX=/usr/local] [DESTDIR=]: ./itkd as sbin/itkd.
# make install-static [TARGET=T]: ./itkd-static-T (make static TARGET=T),
# or ./itkd-static without TARGET, as sbin/itkd: what firmware ships.
# Both install the man pages and the example config (which `itkd -t`
# passes as it is).
PREFIX ?= /usr/local
STATIC_BIN = itkd-static$(if $(TARGET),-$(TARGET))
define install_data
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/doc/itkd
	install -m 0644 man/itkd.8 $(DESTDIR)$(PREFIX)/share/man/man8/itkd.8
	install -m 0644 man/itkd.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/itkd.conf.5
	install -m 0644 conf/itkd.conf.example \
	    $(DESTDIR)$(PREFIX)/share/doc/itkd/itkd.conf.example
endef
install: itkd
	$(install_data)
	install -m 0755 itkd $(DESTDIR)$(PREFIX)/sbin/itkd
install-static:
	@[ -f $(STATIC_BIN) ] || { echo "install-static: no ./$(STATIC_BIN);" \
	    "run make static$(if $(TARGET), TARGET=$(TARGET)) first" >&2; exit 1; }
	$(install_data)
	install -m 0755 $(STATIC_BIN) $(DESTDIR)$(PREFIX)/sbin/itkd
.PHONY: install-static

.PHONY: all deps check check-cross run clean static static-unit static-sizes install fuzz

# make bench [QUICK=1]: itkd against Apache + mpm-itk on loopback (bench/run),
# results in bench/results/. Not part of `make check`.
bench:
	@python3 bench/run $(if $(filter-out 0,$(QUICK)),--quick)

.PHONY: bench
