/*
 * log.c - one line per call on stderr, prefixed with the speaking module.
 *
 * A daemon's log is read by people tailing it and by scripts grepping it, so
 * every line has the same shape: an ISO time when stderr is not a terminal
 * (a log file wants it, a terminal does not), the module, the level, the
 * message.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum vkdr_log_level threshold = VKDR_LOG_INFO;

void log_set_level(enum vkdr_log_level level)
{
	threshold = level;
}

bool log_enabled(enum vkdr_log_level level)
{
	return level <= threshold;
}

static const char *level_name(enum vkdr_log_level level)
{
	switch (level) {
	case VKDR_LOG_ERR:
		return "error";
	case VKDR_LOG_WARN:
		return "warning";
	case VKDR_LOG_INFO:
		return "info";
	case VKDR_LOG_DEBUG:
		return "debug";
	}
	return "?";
}

void log_vline(enum vkdr_log_level level, const char *module,
	       const char *fmt, va_list ap)
{
	char line[4096];
	size_t n = 0;
	int r;

	if (!log_enabled(level))
		return;

	if (!isatty(STDERR_FILENO)) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n, ".%03ldZ ",
			     ts.tv_nsec / 1000000);
		n += r > 0 ? (size_t)r : 0;
	}

	r = snprintf(line + n, sizeof(line) - n, "vkdr[%s]: %s: ",
		     module ? module : "?", level_name(level));
	if (r > 0)
		n += (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';

	/* One write() per line keeps lines whole between threads. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_line(enum vkdr_log_level level, const char *module,
	      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(level, module, fmt, ap);
	va_end(ap);
}
