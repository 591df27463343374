/*
 * fuzz_mirrorconf.c - reading the two configuration files with
 * core/mirrorconf.c, as "vkdr mirror serve" and "vkdr mirror list" do.
 *
 * Input: mirror-registry.yaml, then optionally a NUL and
 * mirror-settings.yaml (absent when the input holds no NUL). The target
 * writes both into a VKDR_HOME of its own under $TMPDIR and calls
 * mirrorconf_read(), which takes the lock and reads them from disk.
 */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "hostname.h"
#include "mirrorconf.h"
#include "paths.h"

static char home[256];

/*
 * Reading never checks a host name; the editing functions that do are
 * linked but never called here, so the plugin lookup behind them is not.
 */
int hostname_validate(const char *in, char *out, size_t outlen, char *err,
		      size_t errlen)
{
	abort();
}

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
	    paths_init() < 0 || paths_mkdir_parent(paths_settings()) < 0)
		abort();
	atexit(remove_home);
	return 0;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t reg_len = nul ? (size_t)(nul - data) : size;
	struct vkdr_config *cfg = NULL;
	char err[512];
	int rc;

	write_file(paths_registry_config(), (const char *)data, reg_len);
	if (nul)
		write_file(paths_settings(), (const char *)nul + 1,
			   size - reg_len - 1);
	else
		unlink(paths_settings());

	err[0] = '\0';
	rc = mirrorconf_read(&cfg, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc < 0) {
		FUZZ_CHECK(cfg == NULL);
		/* Every refusal tells the user where. */
		FUZZ_CHECK(rc == -ENOMEM || err[0] != '\0');
		return 0;
	}

	FUZZ_CHECK(cfg->settings.listen && cfg->settings.storage);
	for (size_t i = 0; i < cfg->n_mirrors; i++) {
		const struct vkdr_mirror *m = &cfg->mirrors[i];

		FUZZ_CHECK(m->host && m->endpoint);
		FUZZ_CHECK(m->port <= 65535);
	}
	for (size_t i = 0; i < cfg->settings.n_storage_options; i++)
		FUZZ_CHECK(cfg->settings.storage_options[i].key &&
			   cfg->settings.storage_options[i].value);
	mirrorconf_free(cfg);
	return 0;
}
