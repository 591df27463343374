/*
 * tar.c - just enough of the ustar format for an OCI image layout.
 *
 * An exported cache holds a handful of fixed names and files named by
 * their digest, so the writer needs neither long names nor links. The
 * reader takes what other tools write as well (GNU tar, skopeo's
 * oci-archive): it skips pax and GNU long-name records, and reads sizes
 * in octal or in the base-256 form used above 8 GiB.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "prefetch.h"

#define BLOCK 512

struct ustar {
	char name[100];
	char mode[8];
	char uid[8];
	char gid[8];
	char size[12];
	char mtime[12];
	char chksum[8];
	char typeflag;
	char linkname[100];
	char magic[6];
	char version[2];
	char uname[32];
	char gname[32];
	char devmajor[8];
	char devminor[8];
	char prefix[155];
	char pad[12];
};

_Static_assert(sizeof(struct ustar) == BLOCK, "a ustar header is a block");

static unsigned header_sum(const unsigned char *block)
{
	unsigned sum = 0;

	for (size_t i = 0; i < BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : block[i];
	return sum;
}

/*
 * A size or time in a 12-byte field: octal when it fits, else base-256.
 */
static void put_size(char field[12], uint64_t size)
{
	if (size < 077777777777ull) {
		snprintf(field, 12, "%011llo", (unsigned long long)size);
		return;
	}
	memset(field, 0, 12);
	field[0] = (char)0x80;
	for (int i = 11; i > 0 && size; i--, size >>= 8)
		field[i] = (char)(size & 0xff);
}

int tar_header(FILE *out, const char *name, uint64_t size, bool dir,
	       int64_t mtime)
{
	struct ustar h;

	if (strlen(name) >= sizeof(h.name))
		return -ENAMETOOLONG;
	memset(&h, 0, sizeof(h));
	memcpy(h.name, name, strlen(name));
	snprintf(h.mode, sizeof(h.mode), "%07o", dir ? 0755 : 0644);
	snprintf(h.uid, sizeof(h.uid), "%07o", 0);
	snprintf(h.gid, sizeof(h.gid), "%07o", 0);
	put_size(h.size, dir ? 0 : size);
	put_size(h.mtime, mtime > 0 ? (uint64_t)mtime : 0);
	h.typeflag = dir ? '5' : '0';
	memcpy(h.magic, "ustar", 6);
	memcpy(h.version, "00", 2);
	snprintf(h.chksum, sizeof(h.chksum), "%06o",
		 header_sum((const unsigned char *)&h));
	h.chksum[7] = ' ';
	if (fwrite(&h, sizeof(h), 1, out) != 1)
		return errno ? -errno : -EIO;
	return 0;
}

int tar_pad(FILE *out, uint64_t size)
{
	static const char zeros[BLOCK];
	size_t pad = (size_t)((BLOCK - size % BLOCK) % BLOCK);

	if (pad && fwrite(zeros, 1, pad, out) != pad)
		return -EIO;
	return 0;
}

int tar_end(FILE *out)
{
	static const char zeros[2 * BLOCK];

	return fwrite(zeros, 1, sizeof(zeros), out) == sizeof(zeros) ? 0
								      : -EIO;
}

/*
 * An octal number in a field of LEN bytes, blanks before it and a blank
 * or NUL after it. 0 or -EINVAL.
 */
static int get_octal(const char *field, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < len && field[i] == ' ')
		i++;
	for (; i < len && field[i] >= '0' && field[i] <= '7'; i++)
		v = (v << 3) | (uint64_t)(field[i] - '0');
	if (i < len && field[i] != ' ' && field[i] != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static int get_size(const char field[12], uint64_t *size)
{
	uint64_t v = 0;

	if ((unsigned char)field[0] & 0x80) {
		if (((unsigned char)field[0] & 0x7f) || field[1] || field[2] ||
		    field[3])
			return -EINVAL;
		for (size_t i = 4; i < 12; i++)
			v = (v << 8) | (unsigned char)field[i];
		*size = v;
		return 0;
	}
	return get_octal(field, 12, size);
}

static int skip_bytes(FILE *in, uint64_t n)
{
	char buf[BLOCK * 8];

	while (n) {
		size_t want = n < sizeof(buf) ? (size_t)n : sizeof(buf);

		if (fread(buf, 1, want, in) != want)
			return -EIO;
		n -= want;
	}
	return 0;
}

int tar_skip_pad(FILE *in, uint64_t size)
{
	return skip_bytes(in, (BLOCK - size % BLOCK) % BLOCK);
}

static bool block_is_zero(const unsigned char *b)
{
	for (size_t i = 0; i < BLOCK; i++)
		if (b[i])
			return false;
	return true;
}

int tar_next(FILE *in, struct tar_entry *entry)
{
	union {
		struct ustar h;
		unsigned char raw[BLOCK];
	} b;
	uint64_t sum;
	const char *name;
	int rc;

	for (;;) {
		if (fread(&b, 1, BLOCK, in) != BLOCK)
			return feof(in) ? -EINVAL : -EIO;
		if (block_is_zero(b.raw))
			return 0;
		if (get_octal(b.h.chksum, sizeof(b.h.chksum), &sum) < 0 ||
		    sum != header_sum(b.raw))
			return -EINVAL;
		rc = get_size(b.h.size, &entry->size);
		if (rc < 0)
			return rc;
		entry->type = b.h.typeflag ? b.h.typeflag : '0';
		if (!strchr("xgLK", entry->type))
			break;
		/* Extended headers: their data is skipped, not read. */
		rc = skip_bytes(in, entry->size);
		if (rc == 0)
			rc = tar_skip_pad(in, entry->size);
		if (rc < 0)
			return rc;
	}

	entry->name[0] = '\0';
	if (memcmp(b.h.magic, "ustar", 5) == 0 && b.h.prefix[0])
		snprintf(entry->name, sizeof(entry->name), "%.155s/",
			 b.h.prefix);
	name = b.h.name;
	if (!entry->name[0] && strncmp(name, "./", 2) == 0)
		name += 2;
	snprintf(entry->name + strlen(entry->name),
		 sizeof(entry->name) - strlen(entry->name), "%.100s", name);
	return 1;
}
