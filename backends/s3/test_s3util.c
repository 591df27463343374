/*
 * test_s3util.c - the s3 backend's network-free helpers: presigning
 * against the example AWS publishes for SigV4 query authentication, URI
 * encoding, the XML scanner and dates.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "s3util.h"

START_TEST(presign_matches_aws_example)
{
	/* AWS S3 documentation, "Authenticating Requests: Using Query
	 * Parameters": GET /test.txt from examplebucket, 24 hours. */
	struct s3_presign p = {
		.host = "examplebucket.s3.amazonaws.com",
		.path = "/test.txt",
		.region = "us-east-1",
		.access_key = "AKIAIOSFODNN7EXAMPLE",
		.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		.now = 1369353600, /* 2013-05-24T00:00:00Z */
		.ttl = 86400,
	};
	char q[2048];

	ck_assert_int_eq(s3_presign_query(&p, q, sizeof(q)), 0);
	ck_assert_str_eq(
		q, "X-Amz-Algorithm=AWS4-HMAC-SHA256"
		   "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
		   "us-east-1%2Fs3%2Faws4_request"
		   "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
		   "&X-Amz-SignedHeaders=host"
		   "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4"
		   "c265957d157751f604d404");
}
END_TEST

START_TEST(presign_limits)
{
	struct s3_presign p = {
		.host = "h",
		.path = "/b/k",
		.region = "r",
		.access_key = "a",
		.secret_key = "s",
		.now = 0,
		.ttl = 0,
	};
	char q[2048];

	ck_assert_int_eq(s3_presign_query(&p, q, sizeof(q)), -EINVAL);
	p.ttl = 604801;
	ck_assert_int_eq(s3_presign_query(&p, q, sizeof(q)), -EINVAL);
	p.ttl = 60;
	ck_assert_int_eq(s3_presign_query(&p, q, 50), -ENAMETOOLONG);
	p.token = "to/ken+=";
	ck_assert_int_eq(s3_presign_query(&p, q, sizeof(q)), 0);
	ck_assert_ptr_nonnull(strstr(q, "&X-Amz-Security-Token=to%2Fken%2B%3D"
					"&X-Amz-SignedHeaders=host"));
}
END_TEST

START_TEST(uri_encoding)
{
	char out[64];

	ck_assert_int_eq(s3_uri_encode("a-Z_0.~/ b+=", true, out, sizeof(out)),
			 0);
	ck_assert_str_eq(out, "a-Z_0.~/%20b%2B%3D");
	ck_assert_int_eq(s3_uri_encode("a/b", false, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "a%2Fb");
	ck_assert_int_eq(s3_uri_encode("abc", false, out, 3), -ENAMETOOLONG);
	ck_assert_int_eq(s3_uri_encode("/", false, out, 3), -ENAMETOOLONG);
	ck_assert_int_eq(s3_uri_encode("/", false, out, 4), 0);
}
END_TEST

START_TEST(xml_scanner)
{
	const char *xml = "<R><Contents><Key>a&amp;b&#47;c</Key><Size>12"
			  "</Size></Contents><Contents><Key>x</Key>"
			  "</Contents><KeyCount>2</KeyCount></R>";
	const char *cur = xml, *end = xml + strlen(xml), *val, *in;
	size_t len, ilen;
	char out[32];

	ck_assert(s3_xml_element(&cur, end, "Contents", &in, &ilen));
	ck_assert(s3_xml_element(&in, in + ilen, "Key", &val, &len));
	ck_assert_int_eq(s3_xml_text(val, len, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "a&b/c");
	ck_assert(s3_xml_element(&cur, end, "Contents", &in, &ilen));
	ck_assert_int_eq(s3_xml_text(in, ilen, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "<Key>x</Key>");
	ck_assert(!s3_xml_element(&cur, end, "Contents", &in, &ilen));
	/* "Key" does not match "KeyCount". */
	cur = xml + strlen("<R><Contents><Key>a&amp;b&#47;c</Key>");
	ck_assert(s3_xml_element(&cur, end, "Key", &val, &len));
	ck_assert_int_eq((int)len, 1);

	ck_assert_int_eq(s3_xml_text("&bogus;", 7, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(s3_xml_text("&#200;", 6, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(s3_xml_text("&#65", 4, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(s3_xml_text("abcd", 4, out, 4), -ENAMETOOLONG);

	/* An element cut off by the end of the buffer is not found. */
	cur = "<Key>abc</Ke";
	ck_assert(!s3_xml_element(&cur, cur + strlen(cur), "Key", &val, &len));
}
END_TEST

START_TEST(dates)
{
	ck_assert_int_eq(s3_parse_iso8601("2013-05-24T00:00:00.000Z"),
			 1369353600);
	ck_assert_int_eq(s3_parse_http_date("Fri, 24 May 2013 00:00:01 GMT"),
			 1369353601);
	ck_assert_int_eq(s3_parse_iso8601("yesterday"), -1);
	ck_assert_int_eq(s3_parse_http_date(""), -1);
}
END_TEST

static Suite *s3util_suite(void)
{
	Suite *s = suite_create("s3util");
	TCase *tc = tcase_create("s3util");

	tcase_add_test(tc, presign_matches_aws_example);
	tcase_add_test(tc, presign_limits);
	tcase_add_test(tc, uri_encoding);
	tcase_add_test(tc, xml_scanner);
	tcase_add_test(tc, dates);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(s3util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
