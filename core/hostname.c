/* hostname.c - placeholder until the config layer lands. */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "hostname.h"

int hostname_validate(const char *in, char *out, size_t outlen, char *err,
		      size_t errlen)
{
	snprintf(out, outlen, "%s", in);
	return 0;
}
