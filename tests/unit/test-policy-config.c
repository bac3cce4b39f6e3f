/* SPDX-License-Identifier: MIT */
/* The reader of the libconfig syntax (policy/policy-config.c), held to libconfig 1.5 itself:
 * every policy of tests/data, the seeds of the policy fuzz targets, the lexer's and grammar's
 * corners, and every one-byte deletion and insertion of a small policy must give the same
 * tree with the same lines, or the same error on the same line (pconf-oracle.h). Then what is
 * ours alone: the bounds, the NUL byte, the truncated flag. */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "test-util.h"

#include "pconf-oracle.h"
#include "policy-config.h"

/* libconfig 1.5 leaks the string tokens its lexer made when a syntax error hits them (its
 * grammar has no %destructor). Not ours to fix; suppressed by those lexer frames only. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
        return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static void assert_agrees(const char *text, size_t len, const char *what) {
        char why[512];
        bool accepted;

        if (oracle_compare(text, len, why, sizeof why, &accepted) < 0) {
                print_error("%s: %s\n", what, why);
                fail();
        }
}

static size_t agree_on_files(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL, *text = NULL;
                size_t size;

                if (de->d_name[0] == '.')
                        continue;
                path = path_join(dir, de->d_name);
                assert_non_null(path);
                assert_int_equal(read_file_bounded(path, 1 << 20, &text, &size), 0);
                assert_agrees(text, size, path);
                n++;
        }
        closedir(d);
        return n;
}

static void test_data_policies_agree_with_libconfig(void **state) {
        assert_true(agree_on_files(TEST_DATA_DIR "/policies") >= 3);
        assert_true(agree_on_files(TEST_DATA_DIR "/../fuzz/corpus/fuzz-policy-parse") >= 3);
        assert_true(agree_on_files(TEST_DATA_DIR "/../fuzz/corpus/fuzz-policy-config") >= 3);
}

/* The corners found by reading libconfig 1.5's scanner and grammar, and by the fuzz target. */
static const char *const corners[] = {
        "",
        "\n\n",
        "a = 1;",
        "a = 99999999999;",
        "a=-99999999999; b = 2147483648; c=99999999999999999999; d = -99999999999999999999;",
        "a=2147483647; b=-2147483648; c=2147483648L; d=-2147483649;",
        "a=0xFFFFFFFF; b=0x100000001; c=0x1FFFFFFFFFFFFFFFFF; d=0x7FFFFFFF; e=0x80000000;",
        "d=0xFFFFFFFFFFFFFFFFL; e=0x10L; f=99999999999999999999L; g=-99999999999999999999L; h=5LL; i=0X1aL;",
        "h=-0x5;",
        "a=+0x1;",
        "a=0x;",
        "a=1LLL;",
        "a=1.; b=.5; c=.; d=-.; e=1e5; f=1E+2; g=+3; h=08; i=-0; j=+.e5; k=.e5; l=1.5e400; m=1e-400;",
        "a=1e;",
        "a=1.5L;",
        "a=- 1;",
        "a=1.5.3;",
        "a = 1; # c",
        "a = 1; // c",
        "a = 1; # c\n",
        "a = 1; // c\n",
        "a = 1; /* unterminated",
        "a=1; /* x\n\n*/ b = 2;",
        "a=1;\n/* x\n\n*/ ;",
        "a = /* in */ 1 /* between */ ;",
        "a = /**/ 1; b = /*/ */ 2;",
        "a = \"abc",
        "a = \"x\" \"y",
        "a = 1; \"abc",
        "a = \"x\\q\\x4g\\x41\\r\\f\\\"\" \"y\";",
        "a=\"x\\x00y\";",
        "a=\"x\\x0\" \"y\";",
        "a=\"\\X41\\xff\";",
        "a=\"\\",
        "a=\"\\\\\";",
        "a=\"\xff\xfe\";",
        "a\v= 1;",
        "a=\x80;",
        "a=1; b=@x;",
        "a=1; A=2;",
        "a=1; a=2;",
        "a = 1;\n\na = 2;",
        "g = { x = 1; y = 2; x = 3; };",
        "a=[1,2L];",
        "a=[1,\"x\"];",
        "a=[1,0x2];",
        "a=[1.0,2];",
        "a=[true,false,TRUE];",
        "a=[[1]];",
        "a=[{}];",
        "a=[1,];",
        "a=(1,\"x\",{b=1;},[1],(2));",
        "a=(1,);",
        "a=(1 2)",
        "a=1,b=2 c=3",
        "a=1;;",
        "a=1;}",
        "}",
        "true=1;",
        "a=TRUE; b=False; d=tRuE;",
        "c=truex;",
        "*a-b_c* = 1;",
        "a-b = 1; _a = 2;",
        "a = {}; b = (); c = [];",
        "a : 1; b : { c : \"x\" }",
        "a = 1 b",
        "a",
        "a =",
        "= 1",
        "a = [1, \"x\" @",
        "a = (\"x\" @",
        "a=\n\"x\n\"\n;\nb=[1,\n\"y\nz\"\n]",
        "a = [\"x\"\n\"y\",\n1.5]",
        "a=(\n\"x\"\n#c\n,\n{\n}\n,[\n2],\n(\n)\n);\n",
        "a = ( 1\n\n,\n\n",
        "a = \"x\ny\nz",
        "\na\n=\n1\n;\nb\n=\n\"x\"\n\"y\"\n;\n\n",
        "a = 1;\n\nb = [1,\n\n2L];",
        "a = 1;\n\nb = [1,\n\n\"x\"\n\n];",
        "a = ( { b = 1; }\n, { c = \"x\"\n\"y\" }\n,\n\"z\"\n/* c\n */ );",
        "l = ( ( ( ( 1 ) ) ) );",
        "a = 1;\r\nb = 2;\r\n",
        "a = 1;\fb = 2;",
};

static void test_corners_agree_with_libconfig(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(corners); i++)
                assert_agrees(corners[i], strlen(corners[i]), corners[i]);
}

/* Every one-byte deletion, and every insertion of a byte that means something to the lexer or
 * the grammar, at every position of a small policy. */
static void test_one_byte_edits_agree_with_libconfig(void **state) {
        static const char policy[] =
                "# c\nkyoka_policy = 1;\nserial = 0x2A; // s\nissued = \"2026-11-20\" \"T10:15\";\n"
                "defaults = { usb_hid = \"allow\"; };\n/* b\n */\nusb = (\n  {\n    permit = \"許可\\x41\";\n"
                "    interfaces = [ \"08:06:50\", \"03:*:*\" ];\n    n = 5L; f = 1.5e3; t = true;\n  },\n"
                "  { permit = \"B\"; }\n);\n";
        static const char inserts[] = "\"\\#/*\n=:;,{}[]() 0xL.e-+@tA\v";
        size_t len = strlen(policy);
        char buf[sizeof policy + 1];

        assert_agrees(policy, len, "base");
        for (size_t i = 0; i < len; i++) {
                memcpy(buf, policy, i);
                memcpy(buf + i, policy + i + 1, len - i - 1);
                assert_agrees(buf, len - 1, "deletion");
                for (size_t k = 0; k < sizeof inserts - 1; k++) {
                        memcpy(buf, policy, i);
                        buf[i] = inserts[k];
                        memcpy(buf + i + 1, policy + i, len - i);
                        assert_agrees(buf, len + 1, "insertion");
                }
        }
}

static void test_tree_and_lines(void **state) {
        static const char text[] = "a = 1;\nb = (\n  { c = \"x\"\n    \"y\"; d = [ \"p\",\n \"q\" ]; },\n  7\n);\n";
        _cleanup_(pconf_freep) struct pconf *c = NULL;
        struct pconf_error e = {};

        assert_int_equal(pconf_parse(text, strlen(text), &c, &e), 0);
        const struct pconf_node *root = pconf_root(c), *b = pconf_member(root, "b");
        assert_int_equal(pconf_length(root), 2);
        assert_null(pconf_member(root, "c"));
        assert_non_null(b);
        assert_int_equal(pconf_type(b), PCONF_LIST);
        assert_int_equal(pconf_line(b), 2);
        const struct pconf_node *g = pconf_elem(b, 0);
        assert_int_equal(pconf_type(g), PCONF_GROUP);
        assert_int_equal(pconf_line(g), 3);
        assert_string_equal(pconf_string(pconf_member(g, "c")), "xy");
        const struct pconf_node *d = pconf_member(g, "d");
        assert_int_equal(pconf_line(d), 4);
        /* a string element is made when the token after it is read */
        assert_int_equal(pconf_line(pconf_elem(d, 0)), 4);
        assert_int_equal(pconf_line(pconf_elem(d, 1)), 5);
        assert_int_equal(pconf_int64(pconf_elem(b, 1)), 7);
        assert_int_equal(pconf_line(pconf_elem(b, 1)), 6);
        assert_null(pconf_elem(b, 2));
}

static void test_truncated_32_bit_literal_is_flagged(void **state) {
        static const char text[] = "a = 99999999999; b = 2147483647; c = 0x80000000; d = 99999999999L; e = -2147483648;";
        _cleanup_(pconf_freep) struct pconf *c = NULL;
        struct pconf_error e = {};

        assert_int_equal(pconf_parse(text, strlen(text), &c, &e), 0);
        const struct pconf_node *r = pconf_root(c);
        assert_true(pconf_member(r, "a")->truncated);
        assert_int_equal(pconf_int64(pconf_member(r, "a")), 1215752191);
        assert_false(pconf_member(r, "b")->truncated);
        assert_true(pconf_member(r, "c")->truncated);
        assert_false(pconf_member(r, "d")->truncated);
        assert_int_equal(pconf_int64(pconf_member(r, "d")), 99999999999);
        assert_false(pconf_member(r, "e")->truncated);
}

static void test_bounds_are_refused(void **state) {
        struct pconf *c = NULL;
        struct pconf_error e = {};
        char deep[4 * PCONF_DEPTH_MAX + 16], name[PCONF_NAME_MAX + 16];

        /* a NUL byte: libconfig would read only up to it, the signature covers it all */
        assert_int_equal(pconf_parse("a = 1;\nb = \"x\0y\";", 17, &c, &e), -EINVAL);
        assert_int_equal(e.kind, PCONF_ERROR_BOUND);
        assert_int_equal(e.line, 2);

        /* PCONF_DEPTH_MAX lists in one another are read, one more is refused */
        for (int levels = PCONF_DEPTH_MAX; levels <= PCONF_DEPTH_MAX + 1; levels++) {
                size_t n = (size_t) sprintf(deep, "a = ");
                for (int i = 0; i < levels; i++)
                        deep[n++] = '(';
                for (int i = 0; i < levels; i++)
                        deep[n++] = ')';
                deep[n++] = ';';
                if (levels == PCONF_DEPTH_MAX) {
                        assert_int_equal(pconf_parse(deep, n, &c, &e), 0);
                        pconf_free(TAKE_PTR(c));
                } else {
                        assert_int_equal(pconf_parse(deep, n, &c, &e), -EINVAL);
                        assert_int_equal(e.kind, PCONF_ERROR_BOUND);
                }
        }

        memset(name, 'k', PCONF_NAME_MAX + 1);
        memcpy(name + PCONF_NAME_MAX + 1, " = 1;", 5);
        assert_int_equal(pconf_parse(name, PCONF_NAME_MAX + 6, &c, &e), -EINVAL);
        assert_int_equal(e.kind, PCONF_ERROR_BOUND);
        memcpy(name + PCONF_NAME_MAX, " = 1;", 5);
        assert_int_equal(pconf_parse(name, PCONF_NAME_MAX + 5, &c, &e), 0);
        pconf_free(TAKE_PTR(c));
}

/* A group with more members than are checked for duplicates one by one. */
static void test_duplicate_among_many_members(void **state) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        assert_non_null(f);
        fputs("g = {\n", f);
        for (int i = 0; i < 300; i++)
                fprintf(f, "  k%d = %d;\n", i, i);
        fputs("  k217 = 1;\n};\n", f);
        assert_int_equal(fclose(f), 0);
        assert_agrees(text, size, "many members");

        struct pconf *c = NULL;
        struct pconf_error e = {};
        assert_int_equal(pconf_parse(text, size, &c, &e), -EINVAL);
        assert_string_equal(e.text, "duplicate setting name");
        assert_int_equal(e.line, 302);
}

static void test_root_int64_finds_the_top_level_setting(void **state) {
        static const char text[] = "# serial = 1;\ng = { serial = 2; };\nl = ( { serial = 3; } );\ns = \"serial = 4\";\n"
                                   "serial = 0x2AL;\n";
        int64_t v = 0;

        assert_int_equal(pconf_root_int64(text, strlen(text), "serial", &v), 0);
        assert_int_equal(v, 42);
        assert_int_equal(pconf_root_int64(text, strlen(text), "nothing", &v), -ENOENT);
        assert_int_equal(pconf_root_int64("serial = \"7\";", 14, "serial", &v), -EINVAL);
        assert_int_equal(pconf_root_int64("serial = 99999999999;", 21, "serial", &v), -EINVAL);
        assert_int_equal(pconf_root_int64("serial = 99999999999L;", 22, "serial", &v), 0);
        assert_int_equal(v, 99999999999);
}

static void test_equal_ignores_lines_only(void **state) {
        static const char a[] = "x = 1; g = { s = \"ab\"; l = ( 1, [ 2L ] ); };";
        static const char b[] = "x =\n1;\ng = { s = \"a\"\n \"b\"; l = (1,[2L]) }";
        static const char c[] = "x = 1; g = { s = \"ab\"; l = ( 1, [ 2 ] ); };";
        _cleanup_(pconf_freep) struct pconf *ta = NULL, *tb = NULL, *tc = NULL;
        struct pconf_error e;

        assert_int_equal(pconf_parse(a, strlen(a), &ta, &e), 0);
        assert_int_equal(pconf_parse(b, strlen(b), &tb, &e), 0);
        assert_int_equal(pconf_parse(c, strlen(c), &tc, &e), 0);
        assert_true(pconf_equal(pconf_root(ta), pconf_root(tb)));
        assert_false(pconf_equal(pconf_root(ta), pconf_root(tc)));
}

static void test_offsets_of_settings_and_elements(void **state) {
        static const char text[] = "a = 1;\ng : { s = \"x\" \"y\"; };\nl = ( { k = 2; } , [ 1L, 2L ] );\n";
        _cleanup_(pconf_freep) struct pconf *c = NULL;
        struct pconf_error e;

        assert_int_equal(pconf_parse(text, strlen(text), &c, &e), 0);
        const struct pconf_node *root = pconf_root(c), *g = pconf_member(root, "g"), *l = pconf_member(root, "l");
#define SPAN(n) strndupa(text + pconf_start(n), pconf_end(n) - pconf_start(n))
        assert_string_equal(SPAN(pconf_member(root, "a")), "a = 1");
        assert_string_equal(SPAN(g), "g : { s = \"x\" \"y\"; }");
        assert_string_equal(SPAN(pconf_member(g, "s")), "s = \"x\" \"y\"");
        assert_string_equal(SPAN(l), "l = ( { k = 2; } , [ 1L, 2L ] )");
        assert_string_equal(SPAN(pconf_elem(l, 0)), "{ k = 2; }");
        assert_string_equal(SPAN(pconf_elem(l, 1)), "[ 1L, 2L ]");
        assert_string_equal(SPAN(pconf_elem(pconf_elem(l, 1), 1)), "2L");
#undef SPAN
}

static void test_next_token_kinds(void **state) {
        static const char text[] = "x = 0x10L; # c\n /* d\n */ \"s\\\"t\" , y : 99999999999 true /* open";
        struct pconf_token t;

        pconf_next_token(text, strlen(text), 0, &t);
        assert_int_equal(t.kind, PCONF_TOKEN_NAME);
        pconf_next_token(text, strlen(text), t.end, &t);
        assert_true(t.kind == PCONF_TOKEN_PUNCT && t.c == '=');
        pconf_next_token(text, strlen(text), t.end, &t);
        assert_true(t.kind == PCONF_TOKEN_INT && t.i == 16 && t.int64 && !t.truncated);
        pconf_next_token(text, strlen(text), t.end, &t);
        assert_true(t.kind == PCONF_TOKEN_PUNCT && t.c == ';');
        pconf_next_token(text, strlen(text), t.end, &t);
        assert_int_equal(t.kind, PCONF_TOKEN_STRING);
        assert_int_equal(t.newlines, 2);
        assert_int_equal(t.end - t.start, 6);
        pconf_next_token(text, strlen(text), t.end, &t);
        assert_true(t.kind == PCONF_TOKEN_PUNCT && t.c == ',');
        pconf_next_token(text, strlen(text), t.end, &t);
        pconf_next_token(text, strlen(text), t.end, &t);
        assert_true(t.kind == PCONF_TOKEN_PUNCT && t.c == '=');   /* ':' as '=' */
        pconf_next_token(text, strlen(text), t.end, &t);
        assert_true(t.kind == PCONF_TOKEN_INT && !t.int64 && t.truncated);
        pconf_next_token(text, strlen(text), t.end, &t);
        assert_int_equal(t.kind, PCONF_TOKEN_OTHER);
        size_t before_open = t.end;
        /* libconfig ends the input quietly at an unclosed comment: told apart from the end */
        pconf_next_token(text, strlen(text), before_open, &t);
        assert_int_equal(t.kind, PCONF_TOKEN_BAD);
        pconf_next_token(text, before_open + 1, before_open, &t);
        assert_int_equal(t.kind, PCONF_TOKEN_END);
        pconf_next_token("x # no newline", 14, 1, &t);
        assert_int_equal(t.kind, PCONF_TOKEN_BAD);
}

/* pconf_parse_list_tail(TEXT) reads what pconf_parse reads in "x = (TEXT", lines included. */
static void test_list_tail_reads_as_the_whole_list(void **state) {
        static const char *const good[] = {
                ")", " { a = 1; }, \"s\"\n \"t\", (1, [ 2 ])\n)", "/* c */ { }\n# d\n)",
        };
        static const char *const bad[] = {
                "", "{ a = 1; }", "{ a = 1; },)", "{ a = 1; } ) ;", "{ a = 1; } ) /* open", ", { a = 1; })", "{ a = 1; } { })",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(pconf_freep) struct pconf *tail = NULL, *whole = NULL;
                _cleanup_free_ char *wrapped = NULL;
                struct pconf_error e;

                assert_true(asprintf(&wrapped, "x = (%s", good[i]) > 0);
                assert_int_equal(pconf_parse_list_tail(good[i], strlen(good[i]), 1, false, &tail, &e), 0);
                assert_int_equal(pconf_parse(wrapped, strlen(wrapped), &whole, &e), 0);
                const struct pconf_node *a = pconf_root(tail), *b = pconf_member(pconf_root(whole), "x");
                assert_int_equal(pconf_type(a), PCONF_LIST);
                assert_int_equal(pconf_length(a), pconf_length(b));
                for (size_t k = 0; k < pconf_length(a); k++) {
                        assert_true(pconf_equal(pconf_elem(a, k), pconf_elem(b, k)));
                        assert_int_equal(pconf_line(pconf_elem(a, k)), pconf_line(pconf_elem(b, k)));
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(pconf_freep) struct pconf *tail = NULL;
                struct pconf_error e;
                assert_int_equal(pconf_parse_list_tail(bad[i], strlen(bad[i]), 1, false, &tail, &e), -EINVAL);
        }

        /* after an element, each one comes after a comma; lines count from LINE */
        _cleanup_(pconf_freep) struct pconf *tail = NULL;
        struct pconf_error e;
        assert_int_equal(pconf_parse_list_tail(",\n{ a = 1; }, 2 )", 17, 40, true, &tail, &e), 0);
        assert_int_equal(pconf_length(pconf_root(tail)), 2);
        assert_int_equal(pconf_line(pconf_elem(pconf_root(tail), 0)), 41);
        assert_int_equal(pconf_parse_list_tail("{ a = 1; })", 11, 1, true, &tail, &e), -EINVAL);
        assert_int_equal(e.line, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_data_policies_agree_with_libconfig),
                cmocka_unit_test(test_corners_agree_with_libconfig),
                cmocka_unit_test(test_one_byte_edits_agree_with_libconfig),
                cmocka_unit_test(test_tree_and_lines),
                cmocka_unit_test(test_truncated_32_bit_literal_is_flagged),
                cmocka_unit_test(test_bounds_are_refused),
                cmocka_unit_test(test_duplicate_among_many_members),
                cmocka_unit_test(test_root_int64_finds_the_top_level_setting),
                cmocka_unit_test(test_equal_ignores_lines_only),
                cmocka_unit_test(test_offsets_of_settings_and_elements),
                cmocka_unit_test(test_next_token_kinds),
                cmocka_unit_test(test_list_tail_reads_as_the_whole_list),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
