# itkd: GNU make. `make`, `make check`, `make run`, `make static`, `make bench`,
# `make fuzz`, `make install`, `make clean`.

VERSION  = 0.1
CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -DITKD_VERSION='"$(VERSION)"' \
           -Wall -Wextra -Werror -Wshadow -Wformat=2 -fno-strict-aliasing
LDLIBS  += -lbearssl -lcap

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

SRC  = itkd.c score.c serve.c conn.c body.c http.c vhost.c priv.c path.c file.c cgi.c log.c tls.c
OBJ  = $(SRC:.c=.o)
HDR  = $(wildcard *.h)

UNIT = tests/unit_http tests/unit_vhost tests/unit_path
HELPERS = tests/helpers/credcheck

all: itkd

itkd: $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)

%.o: %.c $(HDR)
	$(CC) $(CFLAGS) -c -o $@ $<

# Unit tests link only the file they test (plus the leaves it needs).
tests/unit_http: tests/unit_http.c http.o tests/unit.h
	$(CC) $(CFLAGS) -I. $(LDFLAGS) -o $@ $< http.o
tests/unit_vhost: tests/unit_vhost.c vhost.o tests/unit.h
	$(CC) $(CFLAGS) -I. $(LDFLAGS) -o $@ $< vhost.o
tests/unit_path: tests/unit_path.c path.o vhost.o tests/unit.h
	$(CC) $(CFLAGS) -I. $(LDFLAGS) -o $@ $< path.o vhost.o
tests/helpers/%: tests/helpers/%.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

deps:
	@sh scripts/deps

check: deps itkd $(UNIT) $(HELPERS)
	@sh tests/run.sh

run: deps itkd
	@sh scripts/demo

clean:
	rm -f itkd itkd-static *.o $(UNIT) $(HELPERS)
	rm -rf tests/tmp

.PHONY: all deps check run clean
