/*
 * cache.c - reading and writing tag records through the store, and the
 * set of objects verified since the daemon started.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

int cache_tag_read(struct daemon *d, const char *key, struct tag_record *rec)
{
	size_t len;
	char *buf;
	int rc;

	rc = object_read_all(d->store, d->store_state, key, 1023, &buf, &len);
	if (rc == -EFBIG)
		return -EINVAL;
	if (rc < 0)
		return rc;
	rc = cache_tag_parse(buf, len, rec);
	free(buf);
	return rc;
}

int cache_tag_write(struct daemon *d, const char *key,
		    const struct tag_record *rec)
{
	char buf[1024];
	void *writer;
	int n, rc;

	n = cache_tag_format(rec, buf, sizeof(buf));
	if (n < 0)
		return n;
	rc = d->store->put_begin(d->store_state, key, (uint64_t)n, &writer);
	if (rc < 0)
		return rc;
	rc = d->store->put_write(d->store_state, writer, buf, (size_t)n);
	if (rc < 0) {
		d->store->put_abort(d->store_state, writer);
		return rc;
	}
	return d->store->put_commit(d->store_state, writer);
}

/* ---- Verified digests ------------------------------------------------ */

#define VERIFIED_FIRST_BUCKETS 1024u

struct verified_entry {
	struct verified_entry *next;
	unsigned char md[32];
	/* Being hashed by one request; the others wait for its verdict. */
	bool checking;
};

struct verified_set {
	pthread_mutex_t lock;
	pthread_cond_t checked;		/* a check ended */
	struct verified_entry **buckets;
	size_t n_buckets;	/* a power of two */
	size_t n_entries;
};

/* One digit of a digest oci_digest_check() accepted: [0-9a-f]. */
static unsigned hex_value(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

/* The 32 bytes a "sha256:<hex>" digest names; false when malformed. */
static bool digest_bytes(const char *digest, unsigned char md[32])
{
	const char *hex = digest + 7;

	if (oci_digest_check(digest) != OCI_OK ||
	    strncmp(digest, "sha256:", 7) != 0)
		return false;
	for (int i = 0; i < 32; i++)
		md[i] = (unsigned char)(hex_value(hex[2 * i]) << 4 |
					hex_value(hex[2 * i + 1]));
	return true;
}

/* The bytes of a sha256 are uniform already: any eight make an index. */
static size_t bucket_of(const struct verified_set *set,
			const unsigned char md[32])
{
	uint64_t h;

	memcpy(&h, md, sizeof(h));
	return (size_t)h & (set->n_buckets - 1);
}

int verified_new(struct verified_set **out)
{
	struct verified_set *set = calloc(1, sizeof(*set));

	if (!set)
		return -ENOMEM;
	set->n_buckets = VERIFIED_FIRST_BUCKETS;
	set->buckets = calloc(set->n_buckets, sizeof(*set->buckets));
	if (!set->buckets) {
		free(set);
		return -ENOMEM;
	}
	pthread_mutex_init(&set->lock, NULL);
	pthread_cond_init(&set->checked, NULL);
	*out = set;
	return 0;
}

void verified_free(struct verified_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n_buckets; i++) {
		struct verified_entry *e = set->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&set->lock);
	pthread_cond_destroy(&set->checked);
	free(set->buckets);
	free(set);
}

static struct verified_entry **find_entry(struct verified_set *set,
					  const unsigned char md[32])
{
	struct verified_entry **p = &set->buckets[bucket_of(set, md)];

	for (; *p; p = &(*p)->next)
		if (memcmp((*p)->md, md, 32) == 0)
			break;
	return p;
}

bool verified_has(struct verified_set *set, const char *digest)
{
	struct verified_entry *e;
	unsigned char md[32];
	bool found;

	if (!digest_bytes(digest, md))
		return false;
	pthread_mutex_lock(&set->lock);
	e = *find_entry(set, md);
	found = e && !e->checking;
	pthread_mutex_unlock(&set->lock);
	return found;
}

/* Double the buckets once there are two entries per bucket; best effort. */
static void maybe_grow(struct verified_set *set)
{
	struct verified_entry **old = set->buckets, **grown;
	size_t n_old = set->n_buckets;

	if (set->n_entries < 2 * n_old)
		return;
	grown = calloc(2 * n_old, sizeof(*grown));
	if (!grown)
		return;
	set->buckets = grown;
	set->n_buckets = 2 * n_old;
	for (size_t i = 0; i < n_old; i++) {
		struct verified_entry *e = old[i], *next;

		for (; e; e = next) {
			size_t b = bucket_of(set, e->md);

			next = e->next;
			e->next = grown[b];
			grown[b] = e;
		}
	}
	free(old);
}

/* A new entry for MD at *P, the lock held. NULL when out of memory. */
static struct verified_entry *insert_entry(struct verified_set *set,
					   struct verified_entry **p,
					   const unsigned char md[32],
					   bool checking)
{
	struct verified_entry *e = malloc(sizeof(*e));

	if (!e)
		return NULL;
	memcpy(e->md, md, 32);
	e->checking = checking;
	e->next = NULL;
	*p = e;
	set->n_entries++;
	maybe_grow(set);
	return e;
}

int verified_add(struct verified_set *set, const char *digest)
{
	struct verified_entry **p;
	unsigned char md[32];
	int rc = 0;

	if (!digest_bytes(digest, md))
		return -EINVAL;
	pthread_mutex_lock(&set->lock);
	p = find_entry(set, md);
	if (*p)
		(*p)->checking = false;
	else if (!insert_entry(set, p, md, false))
		rc = -ENOMEM;
	pthread_mutex_unlock(&set->lock);
	return rc;
}

/*
 * Decide who checks MD. Returns 1 when it is verified already, 0 when the
 * caller is to check it (and must call check_end() after), or -ENOMEM,
 * when the caller checks it without telling anyone. A caller that finds a
 * check in progress waits for its end: many clients asking for the same
 * object after a restart cost one hash, and one verdict.
 */
static int check_begin(struct verified_set *set, const unsigned char md[32])
{
	struct verified_entry **p;
	int rc;

	pthread_mutex_lock(&set->lock);
	for (;;) {
		p = find_entry(set, md);
		if (!*p) {
			rc = insert_entry(set, p, md, true) ? 0 : -ENOMEM;
			break;
		}
		if (!(*p)->checking) {
			rc = 1;
			break;
		}
		pthread_cond_wait(&set->checked, &set->lock);
	}
	pthread_mutex_unlock(&set->lock);
	return rc;
}

/* End the check check_begin() gave the caller: GOOD keeps MD verified. */
static void check_end(struct verified_set *set, const unsigned char md[32],
		      bool good)
{
	struct verified_entry **p, *e;

	pthread_mutex_lock(&set->lock);
	p = find_entry(set, md);
	e = *p;
	if (e && good) {
		e->checking = false;
	} else if (e) {
		*p = e->next;
		set->n_entries--;
		free(e);
	}
	pthread_cond_broadcast(&set->checked);
	pthread_mutex_unlock(&set->lock);
}

void verified_remove(struct verified_set *set, const char *digest)
{
	struct verified_entry **p, *e;
	unsigned char md[32];

	if (!digest_bytes(digest, md))
		return;
	pthread_mutex_lock(&set->lock);
	p = find_entry(set, md);
	e = *p;
	if (e) {
		*p = e->next;
		set->n_entries--;
		free(e);
	}
	pthread_mutex_unlock(&set->lock);
}

/* Hash the whole object at KEY into HEX (64 digits and a NUL). */
static int hash_object(struct daemon *d, const char *key, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct vkdr_object obj;
	uint64_t off = 0;
	EVP_MD_CTX *sha;
	char *buf;
	int rc;

	rc = d->store->get(d->store_state, key, &obj);
	if (rc < 0)
		return rc;
	buf = malloc(65536);
	sha = EVP_MD_CTX_new();
	if (!buf || !sha || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out_free;
	}
	while (off < obj.size) {
		size_t want = obj.size - off < 65536 ? (size_t)(obj.size - off)
						     : 65536;
		ssize_t n = d->store->read(d->store_state, &obj, off, buf,
					   want);

		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			goto out_free;
		}
		EVP_DigestUpdate(sha, buf, (size_t)n);
		off += (uint64_t)n;
	}
	EVP_DigestFinal_ex(sha, md, &mdlen);
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);

out_free:
	EVP_MD_CTX_free(sha);
	free(buf);
	d->store->release(d->store_state, &obj);
	return rc;
}

/*
 * Remove the object at KEY whose bytes hash to HEX instead of DIGEST.
 * Returns -ENOENT once it is gone, or -EIO when it could not be removed.
 */
static int remove_corrupt(struct daemon *d, const char *key,
			  const char *digest, const char *hex)
{
	int rc;

	metrics_add(&d->metrics.verify_failures, 1);
	rc = d->store->remove(d->store_state, key);
	vkdr_log_err(d->host, MOD,
		     "%s: stored bytes hash to sha256:%s; corrupt object %s",
		     digest, hex,
		     rc == 0 || rc == -ENOENT ? "removed, to be fetched again"
					      : "could not be removed");
	return rc == 0 || rc == -ENOENT ? -ENOENT : -EIO;
}

int cache_object_verify(struct daemon *d, const char *digest)
{
	char key[OCI_KEY_MAX], hex[65] = "";
	unsigned char md[32];
	bool shared, good;
	int rc;

	rc = oci_blob_key(digest, key, sizeof(key));
	if (rc < 0 || !digest_bytes(digest, md))
		return rc < 0 ? rc : -EINVAL;
	rc = check_begin(d->verified, md);
	if (rc > 0)
		return 0;
	/* Out of memory, the check is this request's alone. */
	shared = rc == 0;

	rc = hash_object(d, key, hex);
	good = rc == 0 && strcmp(hex, digest + 7) == 0;
	/*
	 * The bytes changed behind the daemon's back (a disk error, a hand
	 * edit). Never serve them: remove the object so that the request
	 * that found it fetches it upstream again. Those waiting for this
	 * check learn the verdict only once the object is gone, so none of
	 * them hashes it again.
	 */
	if (rc == 0 && !good)
		rc = remove_corrupt(d, key, digest, hex);
	if (shared)
		check_end(d->verified, md, good);
	return rc;
}
