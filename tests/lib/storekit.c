/*
 * storekit.c - see storekit.h.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storekit.h"

#define WRITERS 8
#define CHUNK 4096

struct writers {
	const struct vkdr_storage_ops *ops;
	void *store;
	const char *key;
	size_t chunks;
	pthread_barrier_t start_line;
	pthread_mutex_t commit_lock;
	int last_committed;
};

struct writer {
	struct writers *all;
	int id;
};

static void *write_same_key(void *arg)
{
	struct writer *me = arg;
	struct writers *all = me->all;
	char chunk[CHUNK];
	void *w;
	int rc;

	memset(chunk, 'A' + me->id, sizeof(chunk));
	rc = all->ops->put_begin(all->store, all->key, 0, &w);
	/* Everyone has begun before anyone writes: the writes overlap. */
	pthread_barrier_wait(&all->start_line);
	if (rc < 0)
		return (void *)(intptr_t)rc;
	for (size_t i = 0; i < all->chunks && rc == 0; i++)
		rc = all->ops->put_write(all->store, w, chunk, sizeof(chunk));
	if (rc < 0) {
		all->ops->put_abort(all->store, w);
		return (void *)(intptr_t)rc;
	}
	pthread_mutex_lock(&all->commit_lock);
	rc = all->ops->put_commit(all->store, w);
	if (rc == 0)
		all->last_committed = me->id;
	pthread_mutex_unlock(&all->commit_lock);
	return (void *)(intptr_t)rc;
}

size_t storekit_concurrent_writers(const struct vkdr_storage_ops *ops,
				   void *store, const char *key,
				   size_t chunks)
{
	struct writers all = {
		.ops = ops,
		.store = store,
		.key = key,
		.chunks = chunks,
		.last_committed = -1,
	};
	struct writer each[WRITERS];
	pthread_t threads[WRITERS];
	size_t size = CHUNK * chunks;
	struct vkdr_object obj;
	char *content;
	void *result;

	pthread_mutex_init(&all.commit_lock, NULL);
	pthread_barrier_init(&all.start_line, NULL, WRITERS);
	for (int i = 0; i < WRITERS; i++) {
		each[i].all = &all;
		each[i].id = i;
		ck_assert_int_eq(pthread_create(&threads[i], NULL,
						write_same_key, &each[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(threads[i], &result);
		ck_assert_int_eq((int)(intptr_t)result, 0);
	}
	pthread_barrier_destroy(&all.start_line);
	pthread_mutex_destroy(&all.commit_lock);

	ck_assert_int_ge(all.last_committed, 0);
	ck_assert_int_eq(ops->get(store, key, &obj), 0);
	ck_assert_uint_eq(obj.size, size);
	content = malloc(size);
	ck_assert_ptr_nonnull(content);
	ck_assert_int_eq(ops->read(store, &obj, 0, content, size),
			 (ssize_t)size);
	for (size_t i = 0; i < size; i++)
		ck_assert_int_eq(content[i], 'A' + all.last_committed);
	free(content);
	ops->release(store, &obj);
	return size;
}
