/*
 * inflight.c - coalesced upstream fetches, streamed through a spool file.
 *
 * Life of a fetch: fetch_join() finds it in the table or creates it and
 * starts its thread. The thread runs the upstream request; each body
 * chunk is appended to the spool file, hashed, and handed to the storage
 * writer, then the readers are woken. At the end the digest decides: on a
 * match the readers get the last byte at once, and only then is the
 * object committed and, for a tag, its record written, so a client never
 * waits for the store to make a large object durable; on a mismatch every
 * reader fails. The fetch leaves the table only after the commit, so a
 * request arriving in between still reads the complete spool file, and
 * one arriving later finds the object in the store.
 *
 * References: the table holds one while the fetch runs, the thread one,
 * each reader one. The spool file goes with the last.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "inflight.h"
#include "upstream.h"

/* Body bytes gathered before they go to the spool file and the store. */
#define FETCH_BATCH (256u * 1024)
/* Batches a blob fetch cycles through: one filling, the rest queued. */
#define FETCH_RING 4

struct fetch {
	struct fetch *next;		/* in the table */
	struct daemon *d;
	struct fetch_spec spec;
	int refs;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool head_ready;
	/* The body is complete and verified; the commit may still run. */
	bool verified;
	bool done;
	int error;			/* negative errno once failed */
	struct fetch_info info;
	uint64_t have;			/* bytes in the spool file */

	/*
	 * Touched by the fetch thread only, or, while a hasher runs, SHA,
	 * WRITER and STORE_FAILED by the hasher only.
	 */
	int spool_fd;
	EVP_MD_CTX *sha;
	void *writer;
	bool store_failed;
	struct timespec started;

	/*
	 * Batches of body bytes. The fetch thread fills RING[FILL] and
	 * writes it to the spool file; with a hasher, the batch then joins
	 * the queue of QUEUED batches from RING[DRAIN] on, which the hasher
	 * thread feeds to SHA-256 and the store writer, so that receiving
	 * and hashing run side by side. Without one (a manifest, or no
	 * thread to be had), the fetch thread does it all.
	 */
	char *ring[FETCH_RING];
	size_t ring_len[FETCH_RING];
	unsigned fill;
	size_t batched;			/* bytes in RING[FILL] */
	bool hasher;			/* a hasher thread runs */
	pthread_t hasher_thread;
	pthread_mutex_t qlock;		/* QUEUED, DRAIN, CLOSING */
	pthread_cond_t qcond;
	unsigned queued;
	unsigned drain;
	bool closing;
};

/* A tag revalidation in progress; its waiters hold references. */
struct reval {
	struct reval *next;
	int refs;
	bool done;
	struct reval_result res;
	char key[OCI_KEY_MAX];
};

struct fetch_table {
	pthread_mutex_t lock;
	struct fetch *head;
	/* Under LOCK too; REVAL_DONE is signalled when one ends. */
	struct reval *revals;
	pthread_cond_t reval_done;
};

int fetch_table_new(struct fetch_table **out)
{
	struct fetch_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->reval_done, NULL);
	*out = t;
	return 0;
}

void fetch_table_free(struct fetch_table *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->reval_done);
	free(t);
}

void fetch_table_wake(struct fetch_table *t)
{
	pthread_mutex_lock(&t->lock);
	pthread_cond_broadcast(&t->reval_done);
	for (struct fetch *f = t->head; f; f = f->next) {
		pthread_mutex_lock(&f->lock);
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_unlock(&t->lock);
}

void fetch_put(struct fetch *f)
{
	int left;

	pthread_mutex_lock(&f->lock);
	left = --f->refs;
	pthread_mutex_unlock(&f->lock);
	if (left > 0)
		return;
	if (f->writer)
		f->d->store->put_abort(f->d->store_state, f->writer);
	if (f->spool_fd >= 0)
		close(f->spool_fd);
	EVP_MD_CTX_free(f->sha);
	for (unsigned i = 0; i < FETCH_RING; i++)
		free(f->ring[i]);
	pthread_mutex_destroy(&f->qlock);
	pthread_cond_destroy(&f->qcond);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f);
}

static int spool_open(struct daemon *d)
{
	char path[PATH_MAX];
	int fd;

	fd = open(d->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* Filesystems without O_TMPFILE: create, then unlink at once. */
	if (snprintf(path, sizeof(path), "%s/fetch-XXXXXX", d->spool_dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

static void table_remove(struct daemon *d, struct fetch *f)
{
	struct fetch **p;

	pthread_mutex_lock(&d->fetches->lock);
	for (p = &d->fetches->head; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	pthread_mutex_unlock(&d->fetches->lock);
}

/* Stop caching this object but keep serving it. */
static void store_give_up(struct fetch *f, int rc)
{
	struct daemon *d = f->d;

	if (f->writer) {
		d->store->put_abort(d->store_state, f->writer);
		f->writer = NULL;
	}
	if (f->store_failed)
		return;
	f->store_failed = true;
	metrics_add(&d->metrics.store_failures, 1);
	if (rc == -ENOSPC)
		vkdr_log_warn(d->host, MOD,
			      "store is full: serving %s%s without caching it",
			      f->spec.base_url, f->spec.path);
	else
		vkdr_log_warn(d->host, MOD,
			      "cannot cache %s%s (%s): serving it anyway",
			      f->spec.base_url, f->spec.path, strerror(-rc));
}

static void store_begin(struct fetch *f, const char *digest, uint64_t hint)
{
	char key[OCI_KEY_MAX];
	int rc;

	rc = oci_blob_key(digest, key, sizeof(key));
	if (rc == 0)
		rc = f->d->store->put_begin(f->d->store_state, key, hint,
					    &f->writer);
	if (rc < 0) {
		f->writer = NULL;
		store_give_up(f, rc);
	}
}

static int on_head(void *arg, const struct upstream_head *head)
{
	struct fetch *f = arg;
	struct fetch_info *info = &f->info;
	struct timespec now;
	bool known;

	if (f->spec.kind == FETCH_MANIFEST &&
	    head->content_length > (int64_t)MANIFEST_MAX) {
		vkdr_log_warn(f->d->host, MOD,
			      "%s%s: manifest of %lld bytes refused",
			      f->spec.base_url, f->spec.path,
			      (long long)head->content_length);
		return -1;
	}

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&f->lock);
	/* What a client waits for: the time to the first header. */
	info->upstream_ms =
		(long)((now.tv_sec - f->started.tv_sec) * 1000 +
		       (now.tv_nsec - f->started.tv_nsec) / 1000000);
	info->status = head->status;
	info->size = head->content_length;
	snprintf(info->content_type, sizeof(info->content_type), "%s",
		 head->content_type[0] ? head->content_type :
					 "application/octet-stream");
	if (f->spec.digest[0])
		snprintf(info->digest, sizeof(info->digest), "%s",
			 f->spec.digest);
	else if (oci_digest_check(head->digest) == OCI_OK)
		memcpy(info->digest, head->digest, sizeof(info->digest));
	known = info->digest[0] != '\0';
	pthread_mutex_unlock(&f->lock);

	/*
	 * Without a digest up front (a manifest by tag from an upstream that
	 * sends no Docker-Content-Digest), the storage key and the header
	 * the client needs are known only at the end: readers then wait for
	 * the whole manifest, which is small.
	 */
	if (known) {
		store_begin(f, info->digest,
			    head->content_length > 0 ?
				    (uint64_t)head->content_length : 0);
		pthread_mutex_lock(&f->lock);
		f->head_ready = true;
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->lock);
	}
	return 0;
}

static long since_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - start->tv_sec) * 1000 +
		      (now.tv_nsec - start->tv_nsec) / 1000000);
}

static int write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Feed LEN body bytes to the digest and the store writer. */
static void hash_and_store(struct fetch *f, const void *buf, size_t len)
{
	struct daemon *d = f->d;
	int rc;

	EVP_DigestUpdate(f->sha, buf, len);
	if (f->writer) {
		rc = d->store->put_write(d->store_state, f->writer, buf, len);
		if (rc < 0)
			store_give_up(f, rc);
	}
}

static void *hasher_main(void *arg)
{
	struct fetch *f = arg;
	unsigned i;

	pthread_mutex_lock(&f->qlock);
	for (;;) {
		while (!f->queued && !f->closing)
			pthread_cond_wait(&f->qcond, &f->qlock);
		if (!f->queued)
			break;
		i = f->drain;
		pthread_mutex_unlock(&f->qlock);
		hash_and_store(f, f->ring[i], f->ring_len[i]);
		pthread_mutex_lock(&f->qlock);
		f->drain = (f->drain + 1) % FETCH_RING;
		f->queued--;
		pthread_cond_broadcast(&f->qcond);
	}
	pthread_mutex_unlock(&f->qlock);
	return NULL;
}

/*
 * Set up the batches at the first body byte: a blob gets the whole ring
 * and a hasher thread, a manifest (small) one batch. Returns 0 or
 * -ENOMEM.
 */
static int batches_setup(struct fetch *f)
{
	unsigned want = f->spec.kind == FETCH_BLOB ? FETCH_RING : 1, n;

	for (n = 0; n < want; n++) {
		f->ring[n] = malloc(FETCH_BATCH);
		if (!f->ring[n])
			break;
	}
	if (!n)
		return -ENOMEM;
	/* Short of memory or of a thread, one batch does it all. */
	if (n == FETCH_RING &&
	    pthread_create(&f->hasher_thread, NULL, hasher_main, f) == 0)
		f->hasher = true;
	return 0;
}

/* Let the hasher finish the queue, and wait for it to end. */
static void hasher_stop(struct fetch *f)
{
	if (!f->hasher)
		return;
	pthread_mutex_lock(&f->qlock);
	f->closing = true;
	pthread_cond_broadcast(&f->qcond);
	pthread_mutex_unlock(&f->qlock);
	pthread_join(f->hasher_thread, NULL);
	f->hasher = false;
}

/*
 * Pass the batch on: to the spool file, at once to the readers, then to
 * the digest and the store writer, so that clients are sent the bytes
 * while they are hashed and stored. Returns 0 or -1 to abort the
 * transfer.
 */
static int flush_batch(struct fetch *f)
{
	struct daemon *d = f->d;
	size_t len = f->batched;
	int rc;

	if (!len)
		return 0;
	f->batched = 0;
	rc = write_all(f->spool_fd, f->ring[f->fill], len, f->have);
	if (rc < 0) {
		vkdr_log_err(d->host, MOD, "spool file: %s", strerror(-rc));
		return -1;
	}
	pthread_mutex_lock(&f->lock);
	f->have += len;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);

	if (!f->hasher) {
		hash_and_store(f, f->ring[f->fill], len);
		return 0;
	}
	pthread_mutex_lock(&f->qlock);
	f->ring_len[f->fill] = len;
	f->queued++;
	pthread_cond_broadcast(&f->qcond);
	f->fill = (f->fill + 1) % FETCH_RING;
	/* The next batch to fill is still queued while the ring is full. */
	while (f->queued == FETCH_RING)
		pthread_cond_wait(&f->qcond, &f->qlock);
	pthread_mutex_unlock(&f->qlock);
	return 0;
}

static int on_progress(void *arg)
{
	return flush_batch(arg);
}

/*
 * libcurl hands a body over in pieces of at most 16 KiB, however much
 * one read from the connection brought. Each piece passed on alone would
 * cost two writes and a wake-up of every reader, so pieces are gathered
 * in a batch, passed on when it is full and after every round of reads
 * (on_progress): a reader never waits for bytes that arrived.
 */
static int on_body(void *arg, const void *buf, size_t len)
{
	struct fetch *f = arg;
	const char *p = buf;

	if (daemon_stopping(f->d))
		return -1;
	if (f->spec.kind == FETCH_MANIFEST &&
	    f->have + f->batched + len > MANIFEST_MAX)
		return -1;
	if (!f->ring[0] && batches_setup(f) < 0)
		return -1;
	while (len) {
		size_t n = FETCH_BATCH - f->batched;

		if (n > len)
			n = len;
		memcpy(f->ring[f->fill] + f->batched, p, n);
		f->batched += n;
		p += n;
		len -= n;
		if (f->batched == FETCH_BATCH && flush_batch(f) < 0)
			return -1;
	}
	return 0;
}

/* Copy the spool file into a new store object under DIGEST. */
static int store_from_spool(struct fetch *f, const char *digest)
{
	char buf[65536];
	uint64_t off = 0;
	int rc;

	store_begin(f, digest, f->have);
	if (!f->writer)
		return -EIO;
	while (off < f->have) {
		size_t want = f->have - off < sizeof(buf) ?
				      (size_t)(f->have - off) :
				      sizeof(buf);
		ssize_t n = pread(f->spool_fd, buf, want, (off_t)off);

		if (n <= 0)
			return -EIO;
		rc = f->d->store->put_write(f->d->store_state, f->writer, buf,
					    (size_t)n);
		if (rc < 0)
			return rc;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * The end of a successful transfer: check the length and the digest and,
 * when both match, let the readers have the whole body. Returns 0 or
 * -EBADMSG.
 */
static int verify_body(struct fetch *f)
{
	struct daemon *d = f->d;
	unsigned char md[EVP_MAX_MD_SIZE];
	char computed[OCI_DIGEST_LEN + 1];
	unsigned int mdlen = 0;

	EVP_DigestFinal_ex(f->sha, md, &mdlen);
	memcpy(computed, "sha256:", 7);
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(computed + 7 + 2 * i, 3, "%02x", md[i]);

	if (f->info.size >= 0 && (uint64_t)f->info.size != f->have) {
		vkdr_log_err(d->host, MOD,
			     "%s%s: upstream sent %llu bytes, announced %lld",
			     f->spec.base_url, f->spec.path,
			     (unsigned long long)f->have,
			     (long long)f->info.size);
		metrics_add(&d->metrics.verify_failures, 1);
		return -EBADMSG;
	}
	if (f->info.digest[0] && strcmp(f->info.digest, computed) != 0) {
		vkdr_log_err(d->host, MOD,
			     "%s%s: digest mismatch, expected %s, got %s; "
			     "not cached, transfer aborted",
			     f->spec.base_url, f->spec.path, f->info.digest,
			     computed);
		metrics_add(&d->metrics.verify_failures, 1);
		return -EBADMSG;
	}

	pthread_mutex_lock(&f->lock);
	/* A manifest by tag without a digest header is named by its bytes. */
	if (!f->info.digest[0])
		memcpy(f->info.digest, computed, sizeof(computed));
	f->verified = true;
	f->head_ready = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/*
 * Make a verified object and its tag record visible in the store. The
 * readers may have had every byte already: a failure here is logged and
 * leaves the object uncached, it never fails a client.
 */
static void commit_object(struct fetch *f)
{
	struct daemon *d = f->d;
	struct tag_record rec;
	int rc;

	if (!f->writer && !f->store_failed) {
		/* No digest was known up front: store the spool file now. */
		rc = store_from_spool(f, f->info.digest);
		if (rc < 0)
			store_give_up(f, rc);
	}

	if (f->writer) {
		rc = d->store->put_commit(d->store_state, f->writer);
		f->writer = NULL;
		if (rc < 0) {
			store_give_up(f, rc);
			return;
		}
		__atomic_fetch_add(&d->commits_since_trim, 1,
				   __ATOMIC_RELAXED);
	}
	if (f->store_failed || !f->spec.tag_key[0])
		return;

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.digest, sizeof(rec.digest), "%s", f->info.digest);
	snprintf(rec.media_type, sizeof(rec.media_type), "%s",
		 f->info.content_type);
	rec.size = f->have;
	rec.validated = time(NULL);
	rc = cache_tag_write(d, f->spec.tag_key, &rec);
	if (rc < 0)
		vkdr_log_warn(d->host, MOD, "cannot write tag record %s: %s",
			      f->spec.tag_key, strerror(-rc));
}

static void *fetch_main(void *arg)
{
	struct fetch *f = arg;
	struct daemon *d = f->d;
	struct upstream_target target = {
		.registry = f->spec.registry,
		.base_url = f->spec.base_url,
		.repository = f->spec.repository,
		.plugin = f->spec.plugin,
	};
	struct upstream_call call = {
		.method = "GET",
		.path = f->spec.path,
		.accept = f->spec.accept[0] ? f->spec.accept : NULL,
		.on_head = on_head,
		.on_body = on_body,
		.on_progress = on_progress,
		.arg = f,
	};
	int rc;

	rc = upstream_fetch(d->upstream, &target, &call);
	if (rc == 0 && call.head.status >= 200 && call.head.status < 300 &&
	    flush_batch(f) < 0)
		rc = -EIO;
	hasher_stop(f);
	if (rc == 0 && call.head.status >= 200 && call.head.status < 300) {
		rc = verify_body(f);
		if (rc == 0) {
			vkdr_log_debug(d->host, MOD,
				       "%s%s: %llu bytes verified in %ld ms",
				       f->spec.base_url, f->spec.path,
				       (unsigned long long)f->have,
				       since_ms(&f->started));
			commit_object(f);
			vkdr_log_debug(d->host, MOD,
				       "%s%s: committed after %ld ms",
				       f->spec.base_url, f->spec.path,
				       since_ms(&f->started));
		}
	}
	if (rc < 0 && f->writer) {
		d->store->put_abort(d->store_state, f->writer);
		f->writer = NULL;
	}
	if (rc < 0 && rc != -EBADMSG)
		vkdr_log_warn(d->host, MOD, "%s%s: upstream fetch failed: %s",
			      f->spec.base_url, f->spec.path, strerror(-rc));

	table_remove(d, f);
	pthread_mutex_lock(&f->lock);
	if (rc == 0 && !(call.head.status >= 200 && call.head.status < 300)) {
		/* An answer without a body for us: readers see the status. */
		f->info.status = call.head.status;
		snprintf(f->info.retry_after, sizeof(f->info.retry_after),
			 "%s", call.head.retry_after);
	}
	if (!f->info.upstream_ms)
		f->info.upstream_ms = call.elapsed_ms;
	f->error = rc;
	f->done = true;
	f->head_ready = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	/*
	 * The table's reference, then the thread's. clang-analyzer cannot
	 * count references and takes the first put for the last.
	 */
	fetch_put(f);
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
	fetch_put(f);

	pthread_mutex_lock(&d->threads_lock);
	d->fetch_threads--;
	pthread_cond_broadcast(&d->threads_cond);
	pthread_mutex_unlock(&d->threads_lock);
	return NULL;
}

static int fetch_new(struct daemon *d, const struct fetch_spec *spec,
		     struct fetch **out)
{
	struct fetch *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return -ENOMEM;
	f->d = d;
	f->spec = *spec;
	f->info.size = -1;
	clock_gettime(CLOCK_MONOTONIC, &f->started);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	pthread_mutex_init(&f->qlock, NULL);
	pthread_cond_init(&f->qcond, NULL);
	f->spool_fd = spool_open(d);
	f->sha = EVP_MD_CTX_new();
	if (f->spool_fd < 0 || !f->sha ||
	    !EVP_DigestInit_ex(f->sha, EVP_sha256(), NULL)) {
		rc = f->spool_fd < 0 ? f->spool_fd : -ENOMEM;
		vkdr_log_err(d->host, MOD, "cannot open a spool file in %s: %s",
			     d->spool_dir, strerror(-rc));
		f->refs = 1;
		fetch_put(f);
		return rc;
	}
	*out = f;
	return 0;
}

int fetch_join(struct daemon *d, const struct fetch_spec *spec,
	       const char *store_key, struct fetch **out, bool *started)
{
	struct vkdr_object_info oi;
	pthread_attr_t attr;
	pthread_t thread;
	struct fetch *f;
	int rc;

	*started = false;
	pthread_mutex_lock(&d->fetches->lock);
	for (f = d->fetches->head; f; f = f->next) {
		if (strcmp(f->spec.table_key, spec->table_key) == 0) {
			pthread_mutex_lock(&f->lock);
			f->refs++;
			pthread_mutex_unlock(&f->lock);
			pthread_mutex_unlock(&d->fetches->lock);
			*out = f;
			return 0;
		}
	}
	if (store_key && d->store->stat(d->store_state, store_key, &oi) == 0) {
		pthread_mutex_unlock(&d->fetches->lock);
		return -EEXIST;
	}

	rc = fetch_new(d, spec, &f);
	if (rc < 0)
		goto out_unlock;
	/* The table's, the thread's and the caller's. */
	f->refs = 3;
	f->next = d->fetches->head;
	d->fetches->head = f;

	pthread_mutex_lock(&d->threads_lock);
	d->fetch_threads++;
	pthread_mutex_unlock(&d->threads_lock);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = -pthread_create(&thread, &attr, fetch_main, f);
	pthread_attr_destroy(&attr);
	if (rc < 0) {
		d->fetches->head = f->next;
		pthread_mutex_lock(&d->threads_lock);
		d->fetch_threads--;
		pthread_mutex_unlock(&d->threads_lock);
		f->refs = 1;
		fetch_put(f);
		goto out_unlock;
	}
	*out = f;
	*started = true;

out_unlock:
	pthread_mutex_unlock(&d->fetches->lock);
	return rc;
}

int fetch_wait_head(struct fetch *f, struct fetch_info *info)
{
	int rc;

	pthread_mutex_lock(&f->lock);
	while (!f->head_ready && !daemon_stopping(f->d)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	}
	*info = f->info;
	if (!f->head_ready)
		rc = -ECANCELED;
	else if (f->error < 0)
		rc = f->error;
	else if (f->info.status < 200 || f->info.status >= 300)
		rc = 1;
	else
		rc = 0;
	pthread_mutex_unlock(&f->lock);
	return rc;
}

ssize_t fetch_read(struct fetch *f, uint64_t pos, void *buf, size_t len)
{
	uint64_t limit;
	ssize_t n;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		struct timespec ts;

		if (f->error < 0) {
			n = f->error;
			goto out_unlock;
		}
		/*
		 * Until the digest is verified, the last byte of a body of
		 * known size is held back: a client never gets a complete
		 * body that could still turn out to be wrong. Once it is,
		 * the commit to the store is no reason to wait.
		 */
		limit = f->have;
		if (!f->verified && !f->done && f->info.size >= 0 &&
		    limit + 1 > (uint64_t)f->info.size)
			limit = f->info.size > 0 ? (uint64_t)f->info.size - 1
						 : 0;
		if (pos < limit)
			break;
		if (f->verified || f->done) {
			n = 0;
			goto out_unlock;
		}
		if (daemon_stopping(f->d)) {
			n = -ECANCELED;
			goto out_unlock;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	}
	if (len > limit - pos)
		len = (size_t)(limit - pos);
	pthread_mutex_unlock(&f->lock);

	n = pread(f->spool_fd, buf, len, (off_t)pos);
	return n < 0 ? -errno : n == 0 ? -EIO : n;

out_unlock:
	pthread_mutex_unlock(&f->lock);
	return n;
}

/*
 * Revalidations are rare and short (one HEAD), so a list under the table
 * lock and one condition variable for all of them are enough.
 */
bool reval_begin(struct daemon *d, const char *key, struct reval_result *res)
{
	struct fetch_table *t = d->fetches;
	struct reval *rv;

	pthread_mutex_lock(&t->lock);
	for (rv = t->revals; rv; rv = rv->next)
		if (strcmp(rv->key, key) == 0)
			break;
	if (!rv) {
		rv = calloc(1, sizeof(*rv));
		if (rv) {
			snprintf(rv->key, sizeof(rv->key), "%s", key);
			rv->refs = 1;
			rv->next = t->revals;
			t->revals = rv;
		} else {
			/* Cannot ask: the caller serves what it has. */
			memset(res, 0, sizeof(*res));
			res->rc = -ENOMEM;
		}
		pthread_mutex_unlock(&t->lock);
		return rv != NULL;
	}

	rv->refs++;
	while (!rv->done && !daemon_stopping(d)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&t->reval_done, &t->lock, &ts);
	}
	if (rv->done) {
		*res = rv->res;
	} else {
		memset(res, 0, sizeof(*res));
		res->rc = -ECANCELED;
	}
	if (--rv->refs == 0)
		free(rv);
	pthread_mutex_unlock(&t->lock);
	return false;
}

void reval_end(struct daemon *d, const char *key,
	       const struct reval_result *res)
{
	struct fetch_table *t = d->fetches;
	struct reval **p, *rv;

	pthread_mutex_lock(&t->lock);
	/* RV ends as the entry for KEY, P as the link to it; RV NULL if none. */
	for (p = &t->revals; (rv = *p) != NULL; p = &rv->next)
		if (strcmp(rv->key, key) == 0)
			break;
	if (rv) {
		*p = rv->next;
		rv->res = *res;
		rv->done = true;
		pthread_cond_broadcast(&t->reval_done);
		if (--rv->refs == 0)
			free(rv);
	}
	pthread_mutex_unlock(&t->lock);
}
