/*
 * storekit.h - checks of the storage contract that hold for every backend,
 * shared by the backends' unit tests.
 */
#ifndef VKDR_TEST_STOREKIT_H
#define VKDR_TEST_STOREKIT_H

#include <stddef.h>
#include <vkdr/module.h>

/*
 * Eight threads write KEY at once, each CHUNKS chunks of 4 KiB filled with
 * a letter of its own, and commit; the commits are serialised by the test
 * only so that it knows which came last. Asserts (with Check) that every
 * commit succeeded and that the object under KEY is whole and is the last
 * committer's. Returns the object's size.
 */
size_t storekit_concurrent_writers(const struct vkdr_storage_ops *ops,
				   void *store, const char *key,
				   size_t chunks);

#endif
