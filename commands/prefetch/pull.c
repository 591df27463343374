/*
 * pull.c - "vkdr mirror prefetch IMAGE...": pull images through the mirror
 * daemon so that they are in its cache before a cluster asks.
 *
 * Nothing here writes to the cache: every byte goes through the daemon
 * over HTTP, exactly as a client's pull would, so the daemon's digest
 * checks, coalescing and atomic commits apply and an interrupted prefetch
 * leaves nothing half-written. When no daemon answers, one is started for
 * the duration of the command.
 *
 * The work is done in two passes: first every image's manifests are
 * fetched (which tells the blobs and their sizes), then every blob is
 * fetched once, however many images share it, with a progress line.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prefetch.h"

/* How long a started daemon has to answer /v2/. */
#define DAEMON_START_MS 15000
/* Nested indexes deeper than this are refused. */
#define MAX_DEPTH 4

struct image {
	const char *text;		/* as the user wrote it */
	struct image_ref ref;
	unsigned port;
	char error[512];		/* empty while the image is fine */
};

struct blob {
	char digest[OCI_DIGEST_LEN + 1];
	uint64_t size;
	size_t image;			/* the first image that needs it */
	bool *needed_by;		/* one flag per image */
};

struct platform {
	char os[100];
	char arch[100];
	char variant[100];
};

struct prefetch {
	const struct vkdr_host *host;
	CURL *curl;
	struct image *images;
	size_t n_images;
	struct blob *blobs;
	size_t n_blobs;
	char (*seen)[OCI_DIGEST_LEN + 1];	/* manifests this image walked */
	size_t n_seen;
	struct platform platform;
	bool all_platforms;
	bool tty;
	/* Progress. */
	uint64_t total, done, current;
	struct timespec started, last_draw;
};

/* ---- HTTP through the daemon ----------------------------------------- */

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow);

struct body {
	char *data;
	size_t len;
	size_t max;		/* 0: count and hash only */
	EVP_MD_CTX *md;
	struct prefetch *p;	/* progress, for blobs */
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;

	if (b->md && !EVP_DigestUpdate(b->md, ptr, n))
		return 0;
	if (b->max) {
		char *grown;

		if (b->len + n > b->max)
			return 0;
		grown = realloc(b->data, b->len + n + 1);
		if (!grown)
			return 0;
		memcpy(grown + b->len, ptr, n);
		grown[b->len + n] = '\0';
		b->data = grown;
	}
	b->len += n;
	if (b->p)
		b->p->current += n;
	return n;
}

/*
 * GET http://127.0.0.1:PORT/v2/NAME/KIND/REFERENCE?ns=REGISTRY with the
 * header lines ACCEPT (may be NULL). The body goes to B; the digest of
 * what came is written to DIGEST. Returns 0 when the daemon answered 200
 * with a complete body, or -EIO with a reason in ERR.
 */
static int daemon_get(struct prefetch *p, const struct image *img,
		      const char *kind, const char *reference,
		      const char *const *accept, struct body *b,
		      char digest[OCI_DIGEST_LEN + 1], char *err, size_t errlen)
{
	struct curl_slist *headers = NULL;
	char url[1024], line[2100];
	long status = 0;
	CURLcode cc;
	int rc = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v2/%s/%s/%s?ns=%s",
		 img->port, img->ref.name, kind, reference, img->ref.registry);
	for (size_t i = 0; accept && accept[i]; i++) {
		struct curl_slist *grown;

		snprintf(line, sizeof(line), "Accept: %s", accept[i]);
		grown = curl_slist_append(headers, line);
		if (!grown) {
			rc = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out_free_headers;
		}
		headers = grown;
	}

	b->md = EVP_MD_CTX_new();
	if (!b->md || !EVP_DigestInit_ex(b->md, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_free_md;
	}
	curl_easy_reset(p->curl);
	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	/* A blob may take long; a stalled transfer may not. */
	curl_easy_setopt(p->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(p->curl, CURLOPT_LOW_SPEED_TIME, 300L);
	if (b->p && p->tty) {
		curl_easy_setopt(p->curl, CURLOPT_XFERINFOFUNCTION,
				 on_progress);
		curl_easy_setopt(p->curl, CURLOPT_XFERINFODATA, p);
		curl_easy_setopt(p->curl, CURLOPT_NOPROGRESS, 0L);
	}

	cc = curl_easy_perform(p->curl);
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		rc = -EIO;
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		goto out_free_md;
	}
	if (status != 200) {
		json_t *doc = b->max ? json_loadb(b->data ? b->data : "",
						  b->len, 0, NULL) :
				       NULL;
		json_t *e = json_array_get(json_object_get(doc, "errors"), 0);
		const char *msg = json_string_value(
			json_object_get(e, "message"));

		rc = -EIO;
		snprintf(err, errlen, "the mirror answered %ld%s%s", status,
			 msg ? ": " : "", msg ? msg : "");
		json_decref(doc);
		goto out_free_md;
	}
	digest_final(b->md, digest);

out_free_md:
	EVP_MD_CTX_free(b->md);
	b->md = NULL;
out_free_headers:
	curl_slist_free_all(headers);
	return rc;
}

/* ---- Manifests ------------------------------------------------------- */

static void image_fail(struct image *img, const char *fmt, ...)
	VKDR_PRINTF(2, 3);

static void image_fail(struct image *img, const char *fmt, ...)
{
	va_list ap;

	if (img->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(img->error, sizeof(img->error), fmt, ap);
	va_end(ap);
}

static int add_blob(struct prefetch *p, size_t image, const char *digest,
		    uint64_t size)
{
	struct blob *grown, *b;

	if (!digest_valid(digest))
		return -EINVAL;
	for (size_t i = 0; i < p->n_blobs; i++) {
		if (strcmp(p->blobs[i].digest, digest) == 0) {
			p->blobs[i].needed_by[image] = true;
			return 0;
		}
	}
	grown = realloc(p->blobs, (p->n_blobs + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	p->blobs = grown;
	b = &p->blobs[p->n_blobs];
	memset(b, 0, sizeof(*b));
	b->needed_by = calloc(p->n_images, sizeof(bool));
	if (!b->needed_by)
		return -ENOMEM;
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	b->size = size;
	b->image = image;
	b->needed_by[image] = true;
	p->n_blobs++;
	p->total += size;
	return 0;
}

/* A descriptor's blob ({"digest": ..., "size": ...}). */
static int add_descriptor(struct prefetch *p, size_t image, json_t *desc)
{
	const char *digest =
		json_string_value(json_object_get(desc, "digest"));
	json_int_t size = json_integer_value(json_object_get(desc, "size"));

	if (!digest || size < 0)
		return -EINVAL;
	return add_blob(p, image, digest, (uint64_t)size);
}

/* Remember DIGEST as walked; false when it was already. */
static bool first_visit(struct prefetch *p, const char *digest)
{
	char(*grown)[OCI_DIGEST_LEN + 1];

	for (size_t i = 0; i < p->n_seen; i++)
		if (strcmp(p->seen[i], digest) == 0)
			return false;
	grown = realloc(p->seen, (p->n_seen + 1) * sizeof(*grown));
	if (!grown)
		return true;
	p->seen = grown;
	snprintf(p->seen[p->n_seen++], OCI_DIGEST_LEN + 1, "%s", digest);
	return true;
}

static bool platform_matches(const struct prefetch *p, json_t *plat)
{
	const char *os = json_string_value(json_object_get(plat, "os"));
	const char *arch =
		json_string_value(json_object_get(plat, "architecture"));
	const char *variant =
		json_string_value(json_object_get(plat, "variant"));

	if (!os || !arch || strcmp(os, p->platform.os) != 0 ||
	    strcmp(arch, p->platform.arch) != 0)
		return false;
	return !p->platform.variant[0] ||
	       (variant && strcmp(variant, p->platform.variant) == 0);
}

static int walk_manifest(struct prefetch *p, size_t image, const char *buf,
			 size_t len, int depth);

/* Fetch the manifest DIGEST by digest and walk it. */
static int fetch_child(struct prefetch *p, size_t image, const char *digest,
		       int depth)
{
	struct image *img = &p->images[image];
	struct body b = { .max = MANIFEST_MAX };
	char got[OCI_DIGEST_LEN + 1], err[300];
	int rc;

	if (!first_visit(p, digest))
		return 0;
	rc = daemon_get(p, img, "manifests", digest,
			client_accepts[0]->lines, &b, got, err, sizeof(err));
	if (rc == 0 && strcmp(got, digest) != 0) {
		snprintf(err, sizeof(err), "the mirror sent other bytes");
		rc = -EIO;
	}
	if (rc < 0)
		image_fail(img, "manifest %s: %s", digest, err);
	else
		rc = walk_manifest(p, image, b.data, b.len, depth + 1);
	free(b.data);
	return rc;
}

static int walk_index(struct prefetch *p, size_t image, json_t *doc,
		      int depth)
{
	struct image *img = &p->images[image];
	json_t *list = json_object_get(doc, "manifests"), *entry;
	size_t i, picked = 0;
	char seen[512] = "";
	int rc = 0;

	json_array_foreach(list, i, entry) {
		const char *digest =
			json_string_value(json_object_get(entry, "digest"));
		json_t *plat = json_object_get(entry, "platform");

		if (!digest || !digest_valid(digest))
			continue;
		if (!p->all_platforms && !platform_matches(p, plat)) {
			const char *os = json_string_value(
				json_object_get(plat, "os"));
			const char *arch = json_string_value(
				json_object_get(plat, "architecture"));
			size_t used = strlen(seen);

			if (os && arch && used < sizeof(seen) - 1)
				snprintf(seen + used, sizeof(seen) - used,
					 "%s%s/%s", used ? ", " : "", os,
					 arch);
			continue;
		}
		picked++;
		rc = fetch_child(p, image, digest, depth);
		if (rc < 0 || !p->all_platforms)
			break;
	}
	if (rc == 0 && picked == 0) {
		image_fail(img,
			   "the index has no manifest for %s/%s%s%s "
			   "(it has: %s)",
			   p->platform.os, p->platform.arch,
			   p->platform.variant[0] ? "/" : "",
			   p->platform.variant, seen[0] ? seen : "none");
		rc = -ENOENT;
	}
	return rc;
}

/*
 * Walk the manifest in BUF: an index leads to the manifests of the chosen
 * platforms, an image manifest to its config and layers.
 */
static int walk_manifest(struct prefetch *p, size_t image, const char *buf,
			 size_t len, int depth)
{
	struct image *img = &p->images[image];
	json_t *doc, *list, *entry;
	size_t i;
	int rc = 0;

	if (depth > MAX_DEPTH) {
		image_fail(img, "indexes nested too deep");
		return -ELOOP;
	}
	doc = json_loadb(buf, len, 0, NULL);
	if (!json_is_object(doc)) {
		image_fail(img, "the manifest is not a JSON object");
		rc = -EINVAL;
		goto out_free_doc;
	}

	if (json_is_array(json_object_get(doc, "manifests"))) {
		rc = walk_index(p, image, doc, depth);
	} else if (json_is_object(json_object_get(doc, "config"))) {
		rc = add_descriptor(p, image, json_object_get(doc, "config"));
		list = json_object_get(doc, "layers");
		json_array_foreach(list, i, entry) {
			if (rc < 0)
				break;
			rc = add_descriptor(p, image, entry);
		}
		if (rc < 0)
			image_fail(img, "the manifest names an invalid blob");
	} else if (json_is_array(json_object_get(doc, "fsLayers"))) {
		/* Schema 1: layers without sizes, config inline. */
		list = json_object_get(doc, "fsLayers");
		json_array_foreach(list, i, entry) {
			const char *sum = json_string_value(
				json_object_get(entry, "blobSum"));

			rc = add_blob(p, image, sum ? sum : "", 0);
			if (rc < 0) {
				image_fail(img, "the manifest names an "
						"invalid blob");
				break;
			}
		}
	} else {
		image_fail(img, "the answer is not a manifest");
		rc = -EINVAL;
	}

out_free_doc:
	json_decref(doc);
	return rc;
}

/*
 * Resolve one image: its manifest by digest, or its tag once per known
 * client's Accept header, since the daemon caches a tag's answer per
 * Accept set. The answer to vkdr's own header must come; another
 * client's may fail (that client could not pull the image either).
 */
static void resolve_image(struct prefetch *p, size_t image)
{
	struct image *img = &p->images[image];
	char digest[OCI_DIGEST_LEN + 1], err[300];

	/*
	 * Manifests are walked once per image, so that a blob two images
	 * share is charged to both when it fails.
	 */
	p->n_seen = 0;
	if (img->ref.digest[0]) {
		fetch_child(p, image, img->ref.digest, 0);
		return;
	}
	for (size_t c = 0; client_accepts[c]; c++) {
		struct body b = { .max = MANIFEST_MAX };
		int rc;

		rc = daemon_get(p, img, "manifests", img->ref.tag,
				client_accepts[c]->lines, &b, digest, err,
				sizeof(err));
		if (rc < 0 && c == 0) {
			image_fail(img, "%s", err);
			free(b.data);
			return;
		}
		if (rc < 0)
			vkdr_log_debug(p->host, MOD,
				       "%s as %s asks for it: %s", img->text,
				       client_accepts[c]->client, err);
		if (rc == 0 && first_visit(p, digest))
			walk_manifest(p, image, b.data, b.len, 0);
		free(b.data);
		if (img->error[0])
			return;
	}
}

/* ---- Blobs and progress ---------------------------------------------- */

static double seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	       (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void human(uint64_t bytes, char *out, size_t outlen)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, outlen, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* One progress line, redrawn in place: bar, bytes, rate and ETA. */
static void draw_progress(struct prefetch *p, bool final)
{
	uint64_t done = p->done + p->current;
	double secs = seconds_since(&p->started);
	double rate = secs > 0 ? (double)done / secs : 0;
	char have[32], total[32], speed[32], eta[32] = "--:--";
	char bar[31];
	size_t fill;

	if (!final && seconds_since(&p->last_draw) < 0.1)
		return;
	clock_gettime(CLOCK_MONOTONIC, &p->last_draw);
	fill = p->total ? (size_t)(30.0 * (double)(done > p->total ? p->total
								    : done) /
				   (double)p->total) :
			  30;
	memset(bar, '#', fill);
	memset(bar + fill, '.', 30 - fill);
	bar[30] = '\0';
	human(done, have, sizeof(have));
	human(p->total, total, sizeof(total));
	human((uint64_t)rate, speed, sizeof(speed));
	if (rate > 0 && p->total > done) {
		unsigned long left =
			(unsigned long)((double)(p->total - done) / rate);

		snprintf(eta, sizeof(eta), "%lu:%02lu", left / 60, left % 60);
	}
	printf("\r\033[K[%s] %s / %s  %s/s  ETA %s%s", bar, have, total,
	       speed, final ? "0:00" : eta, final ? "\n" : "");
	fflush(stdout);
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	draw_progress(arg, false);
	return 0;
}

static void fetch_blob(struct prefetch *p, struct blob *bl)
{
	struct image *img = &p->images[bl->image];
	struct body b = { .p = p };
	char got[OCI_DIGEST_LEN + 1], err[300];
	int rc;

	p->current = 0;
	rc = daemon_get(p, img, "blobs", bl->digest, NULL, &b, got, err,
			sizeof(err));
	if (rc == 0 && strcmp(got, bl->digest) != 0) {
		snprintf(err, sizeof(err), "the bytes hash to %s", got);
		rc = -EIO;
	}
	p->current = 0;
	p->done += rc == 0 ? b.len : 0;
	if (rc < 0) {
		for (size_t i = 0; i < p->n_images; i++)
			if (bl->needed_by[i])
				image_fail(&p->images[i], "blob %s: %s",
					   bl->digest, err);
	}
	if (!p->tty) {
		char size[32];

		human(b.len, size, sizeof(size));
		printf("%s %s %s\n", bl->digest, size,
		       rc == 0 ? "cached" : "FAILED");
		fflush(stdout);
	}
}

/*
 * The size of a blob whose manifest gives none (schema 1), from a HEAD
 * through the daemon, for the progress total. The blob is fetched with
 * GET all the same: the daemon caches on GET only. 0 when unknown.
 */
static uint64_t blob_size(struct prefetch *p, const struct blob *bl)
{
	const struct image *img = &p->images[bl->image];
	curl_off_t length = -1;
	long status = 0;
	char url[1024];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v2/%s/blobs/%s?ns=%s",
		 img->port, img->ref.name, bl->digest, img->ref.registry);
	curl_easy_reset(p->curl);
	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	curl_easy_setopt(p->curl, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, 30000L);
	if (curl_easy_perform(p->curl) != CURLE_OK)
		return 0;
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(p->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
	return status == 200 && length > 0 ? (uint64_t)length : 0;
}

/* ---- A daemon for the duration --------------------------------------- */

static bool daemon_answers(struct prefetch *p, unsigned port)
{
	char url[64];
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v2/", port);
	curl_easy_reset(p->curl);
	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	curl_easy_setopt(p->curl, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, 2000L);
	if (curl_easy_perform(p->curl) != CURLE_OK)
		return false;
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
	return status == 200;
}

/*
 * Start "vkdr mirror serve --listen=127.0.0.1" as a child, its output in
 * $VKDR_HOME/prefetch-serve.log, and wait until every port of the images
 * answers. Returns the child's pid, or a negative errno (the child is
 * then stopped).
 */
static pid_t daemon_start(struct prefetch *p, char *log, size_t loglen)
{
	struct timespec start;
	pid_t pid;
	int fd;

	snprintf(log, loglen, "%s/prefetch-serve.log", p->host->home());
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		/* Killed with the prefetch, however it ends. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execl("/proc/self/exe", "vkdr", "mirror", "serve",
		      "--listen=127.0.0.1", (char *)NULL);
		_exit(127);
	}
	close(fd);

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		bool all = true;
		int status;

		for (size_t i = 0; i < p->n_images && all; i++)
			if (!p->images[i].error[0])
				all = daemon_answers(p, p->images[i].port);
		if (all)
			return pid;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -ECHILD;
		if (seconds_since(&start) * 1000 > DAEMON_START_MS)
			break;
		usleep(100 * 1000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -ETIMEDOUT;
}

static const char *start_failure(int rc)
{
	if (rc == -ECHILD)
		return "it exited at once";
	if (rc == -ETIMEDOUT)
		return "it did not answer /v2/ within 15 seconds";
	return strerror(-rc);
}

static void daemon_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* ---- The command ----------------------------------------------------- */

static void platform_default(struct platform *pl)
{
	struct utsname u;
	const char *m = "amd64";

	snprintf(pl->os, sizeof(pl->os), "linux");
	pl->variant[0] = '\0';
	if (uname(&u) == 0) {
		if (!strcmp(u.machine, "x86_64"))
			m = "amd64";
		else if (!strcmp(u.machine, "aarch64") ||
			 !strcmp(u.machine, "arm64"))
			m = "arm64";
		else if (!strncmp(u.machine, "armv7", 5))
			m = "arm";
		else if (!strcmp(u.machine, "i686") ||
			 !strcmp(u.machine, "i386"))
			m = "386";
		else
			m = u.machine;
		if (!strncmp(u.machine, "armv7", 5))
			snprintf(pl->variant, sizeof(pl->variant), "v7");
	}
	snprintf(pl->arch, sizeof(pl->arch), "%s", m);
}

static int platform_parse(const char *text, struct platform *pl)
{
	char buf[100], *arch, *variant;

	if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf))
		return -EINVAL;
	arch = strchr(buf, '/');
	if (!arch || arch == buf || !arch[1])
		return -EINVAL;
	*arch++ = '\0';
	variant = strchr(arch, '/');
	if (variant)
		*variant++ = '\0';
	if (variant && (!*variant || strchr(variant, '/')))
		return -EINVAL;
	snprintf(pl->os, sizeof(pl->os), "%s", buf);
	snprintf(pl->arch, sizeof(pl->arch), "%s", arch);
	snprintf(pl->variant, sizeof(pl->variant), "%s",
		 variant ? variant : "");
	return 0;
}

static int parse_args(struct prefetch *p, int argc, char **argv)
{
	const char *v;

	p->images = calloc((size_t)argc, sizeof(*p->images));
	if (!p->images)
		return -ENOMEM;
	platform_default(&p->platform);
	for (int i = 1; i < argc; i++) {
		if ((v = option_value(argv[i], "--platform"))) {
			if (platform_parse(v, &p->platform) < 0) {
				fprintf(stderr, "vkdr: --platform wants "
						"OS/ARCH[/VARIANT], e.g. "
						"linux/arm64\n");
				return -EINVAL;
			}
		} else if (strcmp(argv[i], "--all-platforms") == 0) {
			p->all_platforms = true;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "vkdr: unknown option '%s'; run 'vkdr "
					"mirror prefetch --help'\n",
				argv[i]);
			return -EINVAL;
		} else {
			p->images[p->n_images++].text = argv[i];
		}
	}
	if (p->n_images == 0) {
		fprintf(stderr, "vkdr: name at least one image, e.g. 'vkdr "
				"mirror prefetch "
				"docker.io/library/nginx:1.25'\n");
		return -EINVAL;
	}
	return 0;
}

/*
 * Parse every image and find its mirror. An image whose registry is not
 * mirrored fails here; the others go on.
 */
static void find_mirrors(struct prefetch *p, const struct vkdr_config *cfg)
{
	for (size_t i = 0; i < p->n_images; i++) {
		struct image *img = &p->images[i];
		const struct vkdr_mirror *m;
		char err[300];

		if (image_ref_parse(img->text, &img->ref, err, sizeof(err))) {
			image_fail(img, "%s", err);
			continue;
		}
		m = mirror_for_registry(cfg, img->ref.registry);
		if (!m)
			image_fail(img,
				   "%s is not mirrored; add it with 'vkdr "
				   "mirror add --host=%s'",
				   img->ref.registry, img->ref.registry);
		else
			img->port = m->port;
	}
}

static bool any_left(const struct prefetch *p)
{
	for (size_t i = 0; i < p->n_images; i++)
		if (!p->images[i].error[0])
			return true;
	return false;
}

static int report(const struct prefetch *p)
{
	size_t failed = 0;
	char total[32];

	for (size_t i = 0; i < p->n_images; i++) {
		const struct image *img = &p->images[i];

		if (!img->error[0])
			continue;
		fprintf(stderr, "vkdr: prefetch of %s failed: %s\n",
			img->text, img->error);
		failed++;
	}
	human(p->done, total, sizeof(total));
	printf("%zu of %zu image%s cached (%zu blob%s, %s fetched through the "
	       "mirror)\n",
	       p->n_images - failed, p->n_images, p->n_images == 1 ? "" : "s",
	       p->n_blobs, p->n_blobs == 1 ? "" : "s", total);
	return failed ? EXIT_FAIL : EXIT_OK;
}

static void prefetch_free(struct prefetch *p)
{
	for (size_t i = 0; i < p->n_blobs; i++)
		free(p->blobs[i].needed_by);
	free(p->blobs);
	free(p->seen);
	free(p->images);
	if (p->curl)
		curl_easy_cleanup(p->curl);
}

int prefetch_run(const struct vkdr_host *host, int argc, char **argv)
{
	struct prefetch p = { .host = host };
	struct vkdr_config *cfg = NULL;
	char err[512], log[4200];
	pid_t daemon = 0;
	int ret = EXIT_FAIL;

	if (parse_args(&p, argc, argv) < 0) {
		ret = EXIT_USAGE;
		goto out_free;
	}
	if (host->config_read(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "vkdr: %s\n", err);
		goto out_free;
	}
	p.curl = curl_easy_init();
	if (!p.curl) {
		fprintf(stderr, "vkdr: cannot start libcurl\n");
		goto out_free_config;
	}
	p.tty = isatty(STDOUT_FILENO);

	find_mirrors(&p, cfg);
	for (size_t i = 0; i < p.n_images && any_left(&p); i++) {
		if (p.images[i].error[0] ||
		    daemon_answers(&p, p.images[i].port))
			continue;
		daemon = daemon_start(&p, log, sizeof(log));
		if (daemon < 0) {
			fprintf(stderr, "vkdr: no mirror daemon answers and "
					"none could be started (%s); see %s\n",
				start_failure((int)daemon), log);
			goto out_free_config;
		}
		vkdr_log_info(host, MOD, "started a mirror daemon for the "
					 "prefetch (log: %s)", log);
		break;
	}

	for (size_t i = 0; i < p.n_images; i++)
		if (!p.images[i].error[0])
			resolve_image(&p, i);

	for (size_t i = 0; i < p.n_blobs; i++) {
		if (p.blobs[i].size == 0) {
			p.blobs[i].size = blob_size(&p, &p.blobs[i]);
			p.total += p.blobs[i].size;
		}
	}

	clock_gettime(CLOCK_MONOTONIC, &p.started);
	for (size_t i = 0; i < p.n_blobs; i++) {
		bool wanted = false;

		for (size_t j = 0; j < p.n_images; j++)
			if (p.blobs[i].needed_by[j] && !p.images[j].error[0])
				wanted = true;
		if (!wanted) {
			p.total -= p.blobs[i].size;
			continue;
		}
		fetch_blob(&p, &p.blobs[i]);
		if (p.tty)
			draw_progress(&p, false);
	}
	if (p.tty && p.n_blobs)
		draw_progress(&p, true);
	ret = report(&p);

	/* The daemon waits for open connections before it exits. */
	curl_easy_cleanup(p.curl);
	p.curl = NULL;
	daemon_stop(daemon);
out_free_config:
	host->config_free(cfg);
out_free:
	prefetch_free(&p);
	return ret;
}
