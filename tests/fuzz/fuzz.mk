# libFuzzer targets for the parsers that read outside input. Not part of
# "make" or "make check": the top-level Makefile runs this file for
# "make fuzz" (build) and "make fuzz-run" (run each target from its seed
# corpus for FUZZ_SECONDS), handing down the paths and the library flags
# configure found:
#
#   top_srcdir    the source tree
#   top_builddir  the configured build tree (for config.h)
#   YAML_CFLAGS YAML_LIBS JANSSON_CFLAGS JANSSON_LIBS CRYPTO_CFLAGS
#   CRYPTO_LIBS
#
# Every target links the project's own .c files directly, compiled here
# with clang and the fuzzer, address and undefined-behaviour sanitizers,
# so a finding points at the line of the real code.

FUZZ_CC ?= clang
FUZZ_CFLAGS ?= -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 60
# Each run also stops a single input after this many seconds and above
# this resident size, so a slow or greedy input counts as a finding.
FUZZ_TIMEOUT ?= 10
FUZZ_RSS_MB ?= 2048

fuzzdir = $(top_srcdir)/tests/fuzz
outdir = $(top_builddir)/tests/fuzz
corpusdir = $(fuzzdir)/corpus

FUZZ_CPPFLAGS = -D_GNU_SOURCE= -I$(top_builddir) -I$(top_srcdir)/core \
	-I$(top_srcdir)/core/include -I$(top_srcdir)/commands/serve \
	-I$(top_srcdir)/plugins/common -I$(top_srcdir)/backends/s3 \
	-I$(fuzzdir)
FUZZ_WARN = -Wall -Wextra -Wno-unused-parameter

TARGETS = fuzz_challenge fuzz_oci fuzz_yaml fuzz_mirrorconf fuzz_token \
	fuzz_manifest fuzz_ratelimit fuzz_credentials fuzz_s3xml fuzz_hostname

fuzz_challenge_SRC = $(fuzzdir)/fuzz_challenge.c \
	$(top_srcdir)/core/challenge.c
fuzz_challenge_LIBS =

fuzz_oci_SRC = $(fuzzdir)/fuzz_oci.c $(top_srcdir)/commands/serve/oci.c
fuzz_oci_LIBS = $(CRYPTO_LIBS)

fuzz_yaml_SRC = $(fuzzdir)/fuzz_yaml.c $(top_srcdir)/core/yamltree.c
fuzz_yaml_LIBS = $(YAML_LIBS)

fuzz_mirrorconf_SRC = $(fuzzdir)/fuzz_mirrorconf.c \
	$(top_srcdir)/core/mirrorconf.c $(top_srcdir)/core/yamltree.c \
	$(top_srcdir)/core/paths.c
fuzz_mirrorconf_LIBS = $(YAML_LIBS)

fuzz_token_SRC = $(fuzzdir)/fuzz_token.c \
	$(top_srcdir)/plugins/common/vkdrplugin.c \
	$(top_srcdir)/core/challenge.c
fuzz_token_LIBS = $(JANSSON_LIBS)

fuzz_manifest_SRC = $(fuzzdir)/fuzz_manifest.c \
	$(top_srcdir)/commands/serve/oci.c \
	$(top_srcdir)/commands/serve/record.c
fuzz_manifest_LIBS = $(JANSSON_LIBS) $(CRYPTO_LIBS)

fuzz_ratelimit_SRC = $(fuzzdir)/fuzz_ratelimit.c \
	$(top_srcdir)/plugins/dockerhub/dockerhub.c \
	$(top_srcdir)/plugins/common/vkdrplugin.c
fuzz_ratelimit_LIBS = $(JANSSON_LIBS) -lpthread

fuzz_credentials_SRC = $(fuzzdir)/fuzz_credentials.c \
	$(top_srcdir)/core/credentials.c $(top_srcdir)/core/paths.c \
	$(top_srcdir)/core/log.c
fuzz_credentials_LIBS = $(YAML_LIBS)

fuzz_s3xml_SRC = $(fuzzdir)/fuzz_s3xml.c $(top_srcdir)/backends/s3/s3util.c
fuzz_s3xml_LIBS = $(CRYPTO_LIBS)

fuzz_hostname_SRC = $(fuzzdir)/fuzz_hostname.c $(top_srcdir)/core/hostname.c
fuzz_hostname_LIBS =

ALL_CFLAGS = $(FUZZ_CFLAGS) $(FUZZ_WARN) $(FUZZ_CPPFLAGS) $(YAML_CFLAGS) \
	$(JANSSON_CFLAGS) $(CRYPTO_CFLAGS)

all: $(addprefix $(outdir)/,$(TARGETS))

# One rule per target: its sources are few, so it is rebuilt whole.
define fuzz_target
$(outdir)/$(1): $$($(1)_SRC) $(fuzzdir)/fuzz.mk
	@mkdir -p $(outdir)
	$(FUZZ_CC) $(ALL_CFLAGS) -o $$@ $$($(1)_SRC) $$($(1)_LIBS)
endef
$(foreach t,$(TARGETS),$(eval $(call fuzz_target,$(t))))

# Run every target for FUZZ_SECONDS from a copy of its seed corpus, so
# what the run discovers stays in the build tree; crashes are written to
# $(outdir)/crashes/<target>/. Stops at the first target that finds
# something.
run: all
	@set -e; for t in $(TARGETS); do \
		mkdir -p $(outdir)/work/$$t $(outdir)/crashes/$$t; \
		echo "== $$t: $(FUZZ_SECONDS) s"; \
		$(outdir)/$$t -max_total_time=$(FUZZ_SECONDS) \
			-timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=$(FUZZ_RSS_MB) \
			-print_final_stats=1 \
			-artifact_prefix=$(outdir)/crashes/$$t/ \
			$(outdir)/work/$$t $(corpusdir)/$$t; \
	done

# Run every target once over its seed corpus only: a quick regression
# check that the checked-in crashing inputs stay fixed.
regress: all
	@set -e; for t in $(TARGETS); do \
		$(outdir)/$$t -runs=0 $(corpusdir)/$$t; \
	done

clean:
	rm -rf $(addprefix $(outdir)/,$(TARGETS)) $(outdir)/work \
		$(outdir)/crashes

.PHONY: all run regress clean
