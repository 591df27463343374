/*
 * list.c - vkdr mirror list: the configured mirrors as a table, JSON or
 * YAML. JSON and YAML carry the same list of objects so scripts can use
 * either.
 */
#include "config.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "mirror.h"

#define UPSTREAM_BUF 600

/* One line of output, with everything resolved. */
struct row {
	const struct vkdr_mirror *m;
	char upstream[UPSTREAM_BUF];
	bool has_upstream;
	const char *plugin;
};

static int parse_format(const char *text, enum output_format *fmt)
{
	if (!text || strcmp(text, "table") == 0)
		*fmt = OUTPUT_TABLE;
	else if (strcmp(text, "json") == 0)
		*fmt = OUTPUT_JSON;
	else if (strcmp(text, "yaml") == 0)
		*fmt = OUTPUT_YAML;
	else
		return -1;
	return 0;
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void print_table(const struct row *rows, size_t n)
{
	int wh = 4, we = 8, wu = 8;

	if (n == 0) {
		printf("No mirror is configured. Add one with\n"
		       "  vkdr mirror add --host=HOST\n"
		       "and run 'vkdr mirror explain' to see how mirrors "
		       "work.\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int l;

		l = (int)strlen(rows[i].m->host);
		wh = l > wh ? l : wh;
		l = (int)strlen(or_dash(rows[i].m->endpoint));
		we = l > we ? l : we;
		l = rows[i].has_upstream ? (int)strlen(rows[i].upstream) : 1;
		wu = l > wu ? l : wu;
	}
	printf("%-*s  %-*s  %-*s  %s\n", wh, "HOST", we, "ENDPOINT", wu,
	       "UPSTREAM", "PLUGIN");
	for (size_t i = 0; i < n; i++)
		printf("%-*s  %-*s  %-*s  %s\n", wh, rows[i].m->host, we,
		       or_dash(rows[i].m->endpoint), wu,
		       rows[i].has_upstream ? rows[i].upstream : "-",
		       or_dash(rows[i].plugin));
}

static int print_json(const struct row *rows, size_t n)
{
	json_t *list = json_array();
	int rc = EXIT_RUNTIME;
	char *text;

	if (!list)
		return EXIT_RUNTIME;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack(
			"{s:s, s:s, s:I, s:s?, s:s?}", "host",
			rows[i].m->host, "endpoint", rows[i].m->endpoint,
			"port", (json_int_t)rows[i].m->port, "upstream",
			rows[i].has_upstream ? rows[i].upstream : NULL,
			"plugin", rows[i].plugin);

		if (!o || json_array_append_new(list, o) < 0)
			goto out_free_list;
	}
	text = json_dumps(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text) {
		printf("%s\n", text);
		free(text);
		rc = EXIT_OK;
	}

out_free_list:
	json_decref(list);
	return rc;
}

/*
 * True when a plain YAML scalar TEXT would be read back as something else
 * than a string (null, a boolean, a number), so it must be quoted.
 */
static bool looks_typed(const char *text)
{
	static const char *const words[] = {
		"", "~", "null", "true", "false", "yes", "no", "on", "off",
		"y", "n",
	};
	const char *p = text;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(text, words[i]) == 0)
			return true;
	if (*p == '-' || *p == '+')
		p++;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p) && !strchr(".eE_:+-", *p))
			return false;
	return true;
}

static int emit_scalar(yaml_emitter_t *em, const char *text, bool is_string)
{
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	yaml_event_t ev;

	if (!text) {
		text = "null";
		style = YAML_PLAIN_SCALAR_STYLE;
	} else if (is_string && looks_typed(text)) {
		style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
	}
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text,
				     (int)strlen(text), 1, 1, style);
	return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int emit_pair(yaml_emitter_t *em, const char *key, const char *value,
		     bool is_string)
{
	if (emit_scalar(em, key, true) < 0)
		return -1;
	return emit_scalar(em, value, is_string);
}

static int emit_rows(yaml_emitter_t *em, const struct row *rows, size_t n)
{
	yaml_event_t ev;

	yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
					     n ? YAML_BLOCK_SEQUENCE_STYLE
					       : YAML_FLOW_SEQUENCE_STYLE);
	if (!yaml_emitter_emit(em, &ev))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char port[16];

		snprintf(port, sizeof(port), "%u", rows[i].m->port);
		yaml_mapping_start_event_initialize(
			&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if (!yaml_emitter_emit(em, &ev) ||
		    emit_pair(em, "host", rows[i].m->host, true) < 0 ||
		    emit_pair(em, "endpoint", rows[i].m->endpoint, true) < 0 ||
		    emit_pair(em, "port", port, false) < 0 ||
		    emit_pair(em, "upstream",
			      rows[i].has_upstream ? rows[i].upstream : NULL,
			      true) < 0 ||
		    emit_pair(em, "plugin", rows[i].plugin, true) < 0)
			return -1;
		yaml_mapping_end_event_initialize(&ev);
		if (!yaml_emitter_emit(em, &ev))
			return -1;
	}
	yaml_sequence_end_event_initialize(&ev);
	return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int print_yaml(const struct row *rows, size_t n)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int rc = EXIT_RUNTIME;

	if (!yaml_emitter_initialize(&em))
		return EXIT_RUNTIME;
	yaml_emitter_set_output_file(&em, stdout);
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_unicode(&em, 1);

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	if (!yaml_emitter_emit(&em, &ev))
		goto out_delete_emitter;
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	if (!yaml_emitter_emit(&em, &ev) || emit_rows(&em, rows, n) < 0)
		goto out_delete_emitter;
	yaml_document_end_event_initialize(&ev, 1);
	if (!yaml_emitter_emit(&em, &ev))
		goto out_delete_emitter;
	yaml_stream_end_event_initialize(&ev);
	if (yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em))
		rc = EXIT_OK;

out_delete_emitter:
	yaml_emitter_delete(&em);
	return rc;
}

int cmd_list(const struct vkdr_host *host, int argc, char **argv)
{
	const char *format = NULL;
	const struct opt opts[] = {
		{ .name = "output", .short_name = 'o', .value = &format },
		{ 0 },
	};
	enum output_format fmt;
	struct vkdr_config *cfg;
	struct row *rows;
	char err[1024];
	int rc;

	rc = parse_opts("list", argc, argv, opts, NULL);
	if (rc)
		return rc;
	if (parse_format(format, &fmt) < 0) {
		fprintf(stderr, "vkdr mirror list: unknown output format "
				"'%s'; use table, json or yaml\n", format);
		return EXIT_USAGE;
	}
	if (host->config_read(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "vkdr mirror list: %s\n", err);
		return EXIT_RUNTIME;
	}

	rows = calloc(cfg->n_mirrors ? cfg->n_mirrors : 1, sizeof(*rows));
	if (!rows) {
		rc = EXIT_RUNTIME;
		goto out_free_cfg;
	}
	for (size_t i = 0; i < cfg->n_mirrors; i++) {
		rows[i].m = &cfg->mirrors[i];
		rows[i].has_upstream = mirror_upstream(
			host, rows[i].m, rows[i].upstream,
			sizeof(rows[i].upstream), &rows[i].plugin);
	}

	switch (fmt) {
	case OUTPUT_TABLE:
		print_table(rows, cfg->n_mirrors);
		rc = EXIT_OK;
		break;
	case OUTPUT_JSON:
		rc = print_json(rows, cfg->n_mirrors);
		break;
	case OUTPUT_YAML:
		rc = print_yaml(rows, cfg->n_mirrors);
		break;
	}
	free(rows);

out_free_cfg:
	host->config_free(cfg);
	return rc;
}
