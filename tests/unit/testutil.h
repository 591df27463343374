/*
 * testutil.h - what the core's unit tests share: a fresh VKDR_HOME for
 * every test, and small file helpers.
 */
#ifndef VKDR_TEST_UTIL_H
#define VKDR_TEST_UTIL_H

#include <stddef.h>

/*
 * Point VKDR_HOME at a new temporary directory and compute the paths
 * from it. Meant as a Check fixture; the directory is removed by
 * test_home_remove().
 */
void test_home_create(void);
void test_home_remove(void);
const char *test_home(void);

/* Write TEXT to PATH, creating its directories. Aborts the test on error. */
void test_write_file(const char *path, const char *text);

/* The contents of PATH (malloc'ed, NUL-terminated), or NULL if missing. */
char *test_read_file(const char *path);

#endif
