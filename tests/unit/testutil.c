/*
 * testutil.c - see testutil.h.
 */
#include "config.h"

#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"
#include "testutil.h"

static char home[PATH_MAX];

void test_home_create(void)
{
	snprintf(home, sizeof(home), "%s/vkdr-unit-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(home));
	setenv("VKDR_HOME", home, 1);
	ck_assert_int_eq(paths_init(), 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	return remove(path);
}

void test_home_remove(void)
{
	if (home[0])
		nftw(home, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	home[0] = '\0';
}

const char *test_home(void)
{
	return home;
}

void test_write_file(const char *path, const char *text)
{
	FILE *f;

	ck_assert_int_eq(paths_mkdir_parent(path), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

char *test_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return buf;
}
