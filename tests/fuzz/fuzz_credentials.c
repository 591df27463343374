/*
 * fuzz_credentials.c - finding a registry's credentials with
 * core/credentials.c in the three files a user may have written:
 * mirror-settings.yaml, the configs: section of mirror-registry.yaml, and
 * the Docker client's config.json with its base64 "auth" values.
 *
 * Input: the settings file, a NUL, the registry file, a NUL, config.json,
 * a NUL and the registry asked for ("docker.io" when absent). A file the
 * input lacks does not exist. The target writes them into a VKDR_HOME and
 * a DOCKER_CONFIG of its own under $TMPDIR.
 */
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "credentials.h"
#include "fuzz.h"
#include "log.h"
#include "paths.h"

static char home[256];
static char docker_config[300];

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	return remove(path);
}

static void remove_home(void)
{
	nftw(home, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(home, sizeof(home), "%s/vkdr-fuzz-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(home) || setenv("VKDR_HOME", home, 1) < 0 ||
	    setenv("DOCKER_CONFIG", home, 1) < 0 || paths_init() < 0 ||
	    paths_mkdir_parent(paths_settings()) < 0)
		abort();
	snprintf(docker_config, sizeof(docker_config), "%s/config.json", home);
	atexit(remove_home);
	/* A file that does not parse is a warning: keep the run quiet. */
	log_set_level(VKDR_LOG_ERR);
	return 0;
}

static void write_or_remove(const char *path, const char *start,
			    const char *end, bool present)
{
	FILE *f;

	if (!present) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	if (!f ||
	    fwrite(start, 1, (size_t)(end - start), f) !=
		    (size_t)(end - start) ||
	    fclose(f) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *paths[3] = { paths_settings(), paths_registry_config(),
				 docker_config };
	const char *p = (const char *)data, *end = p + size;
	char *username, *password, *registry;
	int rc;

	/* The three files keep their bytes, NULs aside. */
	for (size_t i = 0; i < 3; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		const char *stop = nul ? nul : end;

		write_or_remove(paths[i], p, stop, p < end || nul);
		p = nul ? nul + 1 : end;
	}
	registry = strndup(p, (size_t)(end - p));
	if (!registry)
		abort();

	rc = credentials_find(*registry ? registry : "docker.io", &username,
			      &password);
	FUZZ_CHECK(rc == 0 || rc == -ENOENT || rc == -ENOMEM);
	if (rc == 0) {
		FUZZ_CHECK(username && password);
		free(username);
		free(password);
	} else {
		FUZZ_CHECK(!username && !password);
	}
	free(registry);
	return 0;
}
