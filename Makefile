# Copyright (c) 2026 The dsrvd authors
#
# Permission to use, copy, modify, and distribute this software for any
# purpose with or without fee is hereby granted, provided that the above
# copyright notice and this permission notice appear in all copies.
#
# THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
# WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
# MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
# ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
# WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
# ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
# OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.

# dsrvd: write-once network storage server.
#
#   make            build dsrvd/dsrvd, dctl/dctl and lib/libdsrv.a
#   make check      install missing build dependencies, build, run regress/
#   make demo       install missing build dependencies, build, run a demo
#   make bench      build, run bench/run.sh (throughput, latency, CPU, memory)
#   make install    PREFIX=/usr/local DESTDIR= ...
#   make SANITIZE=1 build with AddressSanitizer and UBSan
#   make SANDBOX=no build dsrvd without its system call filter (make
#                   clean first); make bench builds dsrvd/dsrvd-nofilter
#                   for its side-by-side run anyway

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR	?=

CC	?= cc
ifeq ($(origin YACC),default)
YACC	:= $(shell command -v bison >/dev/null 2>&1 && echo "bison -y" || echo byacc)
endif
PKG_CONFIG ?= pkg-config
PKGS	= libevent libsodium libprotobuf-c zlib libbsd-overlay

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) libbsd-ctor 2>/dev/null)
EVTHREAD_LIBS := $(shell $(PKG_CONFIG) --libs libevent_pthreads 2>/dev/null)
# dsrvd's system call filter (dsrvd/sandbox.c).
SECCOMP_LIBS := $(shell $(PKG_CONFIG) --libs libseccomp 2>/dev/null)

OPT	?= -O2
CFLAGS	?= $(OPT) -g
CFLAGS	+= -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
	   -Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter \
	   -fstack-protector-strong -D_FORTIFY_SOURCE=2
CPPFLAGS += -D_GNU_SOURCE -I. -Ilib $(PKG_CFLAGS)
LDFLAGS	+= -Wl,-z,relro,-z,now -pthread
CFLAGS	+= -pthread
LDLIBS	+= $(PKG_LIBS)

ifeq ($(SANDBOX),no)
dsrvd/sandbox.o: CPPFLAGS += -DDSRVD_NO_SECCOMP
SECCOMP_LIBS =
endif

# DSRV_SANITIZE: dsrvd's children keep their stderr for the reports.
ifeq ($(SANITIZE),1)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
CPPFLAGS += -DDSRV_SANITIZE
LDFLAGS	+= -fsanitize=address,undefined
endif

# Generated from lib/meta.proto by protoc-c, so not in the wildcard.
LIB_GEN = lib/meta.pb-c.c lib/meta.pb-c.h
LIB_SRCS = $(filter-out lib/meta.pb-c.c,$(wildcard lib/*.c))
LIB_OBJS = $(LIB_SRCS:.c=.o) lib/meta.pb-c.o parse.o
DSRVD_SRCS = $(wildcard dsrvd/*.c)
DSRVD_OBJS = $(DSRVD_SRCS:.c=.o)
DCTL_SRCS = $(wildcard dctl/*.c)
DCTL_OBJS = $(DCTL_SRCS:.c=.o)
UNIT_SRCS = $(wildcard regress/unit/*.c)
UNIT_BINS = $(UNIT_SRCS:.c=)
TOOL_SRCS = $(filter-out regress/tools/shim.c,$(wildcard regress/tools/*.c))
TOOL_BINS = $(TOOL_SRCS:.c=) regress/tools/shim.so

PROGS	= dsrvd/dsrvd dctl/dctl

all: $(PROGS) $(UNIT_BINS) $(TOOL_BINS)

parse.c: parse.y
	$(YACC) -o $@ parse.y

# The generated parser is not ours to keep warning-free.
parse.o: parse.c lib/conf.h lib/log.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-error -Wno-unused-function \
	    -Wno-missing-prototypes -Wno-sign-compare -c -o $@ parse.c

lib/%.pb-c.c lib/%.pb-c.h: lib/%.proto
	protoc-c --proto_path=lib --c_out=lib $<

# Named here so that make keeps them as targets, not intermediates.
lib/meta.pb-c.o: lib/meta.pb-c.c lib/meta.pb-c.h
lib/dsrvfile_meta.o: lib/meta.pb-c.h

lib/libdsrv.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

dsrvd/dsrvd: $(DSRVD_OBJS) lib/libdsrv.a
	$(CC) $(LDFLAGS) -o $@ $(DSRVD_OBJS) lib/libdsrv.a $(LDLIBS) \
	    $(SECCOMP_LIBS)

# The same daemon without its system call filter, for make bench.
NOFILTER_OBJS = $(filter-out dsrvd/sandbox.o,$(DSRVD_OBJS)) \
	    dsrvd/sandbox-nofilter.o

dsrvd/sandbox-nofilter.o: dsrvd/sandbox.c
	$(CC) $(CPPFLAGS) -DDSRVD_NO_SECCOMP $(CFLAGS) -c -o $@ dsrvd/sandbox.c

dsrvd/dsrvd-nofilter: $(NOFILTER_OBJS) lib/libdsrv.a
	$(CC) $(LDFLAGS) -o $@ $(NOFILTER_OBJS) lib/libdsrv.a $(LDLIBS)

# -lcrypt: serve restic --htpasswd checks bcrypt with crypt_r(3);
# libevent_pthreads: its worker threads wake each other's event loops.
dctl/dctl: $(DCTL_OBJS) lib/libdsrv.a
	$(CC) $(LDFLAGS) -o $@ $(DCTL_OBJS) lib/libdsrv.a $(LDLIBS) \
	    $(EVTHREAD_LIBS) -lcrypt

regress/unit/%: regress/unit/%.c lib/libdsrv.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< lib/libdsrv.a $(LDLIBS)

# Test tools: not tests themselves, run by regress/t/*.sh.
regress/tools/%: regress/tools/%.c lib/libdsrv.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< lib/libdsrv.a $(LDLIBS)

# The syscall injector names system calls through libseccomp.
SECCOMP_CFLAGS := $(shell $(PKG_CONFIG) --cflags libseccomp 2>/dev/null)
SECCOMP_LIBS := $(shell $(PKG_CONFIG) --libs libseccomp 2>/dev/null || \
	echo -lseccomp)
regress/tools/sysinject: regress/tools/sysinject.c
	$(CC) $(CPPFLAGS) $(SECCOMP_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
	    $(LDLIBS) $(SECCOMP_LIBS)

# The LD_PRELOAD fault injection shim: a shared object, not a program,
# and without sanitizers (their runtime must come first when preloading).
regress/tools/shim.so: regress/tools/shim.c
	$(CC) $(CPPFLAGS) $(filter-out -fsanitize=% -fno-sanitize-recover=%, \
	    $(CFLAGS)) -shared -fPIC -o $@ $< -ldl

$(LIB_OBJS) $(DSRVD_OBJS) $(DCTL_OBJS) dsrvd/sandbox-nofilter.o: \
	    $(wildcard lib/*.h dsrvd/*.h dctl/*.h)

deps:
	@sh regress/deps.sh

# Sub-makes so that pkg-config runs again after deps installed packages.
check: deps
	@$(MAKE) --no-print-directory all
	@sh regress/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh regress/demo.sh

# The benchmark: not built by all.  OPT defaults to -O2 already; a tree
# built with SANITIZE=1 would measure the sanitizers, and run.sh says so.
bench/benchtool: bench/benchtool.c lib/libdsrv.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< lib/libdsrv.a $(LDLIBS)

bench: $(PROGS) bench/benchtool dsrvd/dsrvd-nofilter
	@sh bench/run.sh

install: $(PROGS)
	sh etc/install.sh "$(DESTDIR)" "$(SBINDIR)" "$(MANDIR)" "$(SYSCONFDIR)"

lint:
	mandoc -Tlint -W warning man/*.[1-9]

clean:
	rm -f $(LIB_OBJS) $(DSRVD_OBJS) $(DCTL_OBJS) $(PROGS) $(UNIT_BINS) \
	    $(TOOL_BINS) parse.c lib/libdsrv.a $(LIB_GEN) \
	    dsrvd/sandbox-nofilter.o dsrvd/dsrvd-nofilter

.PHONY: all deps check demo bench install lint clean
