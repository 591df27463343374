/*
 * log.h - the core's logging, also offered to modules as host->log.
 */
#ifndef VKDR_CORE_LOG_H
#define VKDR_CORE_LOG_H

#include <stdbool.h>
#include <vkdr/module.h>

/* Lines below LEVEL are dropped. The default is VKDR_LOG_INFO. */
void log_set_level(enum vkdr_log_level level);
bool log_enabled(enum vkdr_log_level level);

/*
 * Write one line to stderr: "vkdr[MODULE]: LEVEL: message". Lines are
 * written with a single write() so concurrent threads do not interleave.
 */
void log_line(enum vkdr_log_level level, const char *module,
	      const char *fmt, ...) VKDR_PRINTF(3, 4);
void log_vline(enum vkdr_log_level level, const char *module,
	       const char *fmt, va_list ap) VKDR_PRINTF(3, 0);

#define core_err(...) log_line(VKDR_LOG_ERR, "core", __VA_ARGS__)
#define core_warn(...) log_line(VKDR_LOG_WARN, "core", __VA_ARGS__)
#define core_info(...) log_line(VKDR_LOG_INFO, "core", __VA_ARGS__)
#define core_debug(...)                                              \
	do {                                                         \
		if (log_enabled(VKDR_LOG_DEBUG))                     \
			log_line(VKDR_LOG_DEBUG, "core", __VA_ARGS__); \
	} while (0)

#endif
