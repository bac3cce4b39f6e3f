/* SPDX-License-Identifier: MIT */
/* MANIFEST: what the export key signs (docs/ledger.md, "MANIFEST"). A few "key value" lines
 * naming the host, the week, the key and the chain hashes at the week's start and end, then one
 * sha256sum(1) line per file, so that
 *     grep -E '^[0-9a-f]{64}  ' MANIFEST | sha256sum -c
 * checks the files with nothing but coreutils. The format is parsed strictly: a manifest that
 * is not exactly in it is refused, not interpreted. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export.h"

#include "fileio.h"
#include "fs-safe.h"
#include "hexutil.h"


int file_sha256(const char *dir, const char *name, uint8_t ret[static 32]) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        return file_sha256_at(dfd, name, ret);
}

int file_sha256_at(int dirfd, const char *name, uint8_t ret[static 32]) {
        uint8_t buf[64 * 1024];
        unsigned len = 0;
        ssize_t n;
        int r = 0;

        _cleanup_close_ int fd = file_open_regular_at(dirfd, name);
        if (fd < 0)
                return fd;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
                r = -EIO;
        while (r == 0 && (n = read(fd, buf, sizeof buf)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                } else if (EVP_DigestUpdate(ctx, buf, (size_t) n) != 1)
                        r = -EIO;
        }
        if (r == 0 && (EVP_DigestFinal_ex(ctx, ret, &len) != 1 || len != 32))
                r = -EIO;
        EVP_MD_CTX_free(ctx);
        return r;
}

struct hashing_file {
        int fd;
        EVP_MD_CTX *ctx;
        int error;              /* the first write's error: the file is not what was hashed */
};

static ssize_t hashing_file_write(void *cookie, const char *buf, size_t size) {
        struct hashing_file *h = cookie;

        if (h->error == 0 && EVP_DigestUpdate(h->ctx, buf, size) != 1)
                h->error = EIO;
        for (size_t done = 0; h->error == 0 && done < size;) {
                ssize_t n = write(h->fd, buf + done, size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        h->error = n < 0 ? errno : EIO;
                else
                        done += (size_t) n;
        }
        if (h->error != 0) {
                /* Nothing written after this counts: the export fails (hashing_file_close()). */
                errno = h->error;
                return -1;
        }
        return (ssize_t) size;
}

int hashing_file_open(int fd, FILE **ret_f, struct hashing_file **ret_h) {
        static const cookie_io_functions_t io = { .write = hashing_file_write };
        struct hashing_file *h = calloc(1, sizeof *h);

        if (!h)
                return -ENOMEM;
        h->fd = fd;
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
                hashing_file_free(h);
                return -ENOMEM;
        }
        FILE *f = fopencookie(h, "w", io);
        if (!f) {
                int r = negative_errno();
                hashing_file_free(h);
                return r;
        }
        *ret_f = f;
        *ret_h = h;
        return 0;
}

int hashing_file_close(FILE *f, struct hashing_file *h, uint8_t ret[static 32]) {
        unsigned len = 0;
        int r = 0;

        if (fflush(f) != 0 || ferror(f) || fsync(h->fd) < 0)
                r = negative_errno();
        if (fclose(f) != 0 && r == 0)
                r = negative_errno();
        if (h->error != 0)
                r = -h->error;
        if (r == 0 && (EVP_DigestFinal_ex(h->ctx, ret, &len) != 1 || len != 32))
                r = -EIO;
        return r;
}

struct hashing_file *hashing_file_free(struct hashing_file *h) {
        if (!h)
                return NULL;
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
}

static void *files_sha256_run(void *userdata) {
        struct files_sha256 *job = userdata;
        for (size_t i = 0; i < job->n; i++)
                job->errors[i] = file_sha256_at(job->dirfd, job->names[i], job->hashes[i]);
        return NULL;
}

void files_sha256_start(struct files_sha256 *job) {
        assert(job->n <= MANIFEST_FILES_MAX);
        job->threaded = pthread_create(&job->thread, NULL, files_sha256_run, job) == 0;
        if (!job->threaded)
                (void) files_sha256_run(job);
}

void files_sha256_wait(struct files_sha256 *job) {
        if (job->threaded)
                (void) pthread_join(job->thread, NULL);
        job->threaded = false;
}

/* "KEY VALUE", or "KEY" alone for an empty value (version 2 header text). */
static void put_text(FILE *f, const char *key, const char *value) {
        fprintf(f, "%s%s%s\n", key, value[0] ? " " : "", value);
}

int manifest_format(const struct manifest *m, char **ret, size_t *ret_size) {
        char *text = NULL, start[LEDGER_HASH_HEX], end[LEDGER_HASH_HEX], first[LEDGER_HASH_HEX], h[65];
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return -ENOMEM;
        hex_encode(m->start_hash, LEDGER_HASH_SIZE, start);
        hex_encode(m->end_hash, LEDGER_HASH_SIZE, end);
        hex_encode(m->ledger_hash, LEDGER_HASH_SIZE, first);
        fprintf(f, "kyoka-export %u\nhost %s\nmachine-id %s\nweek %s\nkey %s\n", m->version == 1 ? 1 : MANIFEST_VERSION,
                m->host, m->machine_id, m->week, m->key);
        if (m->version != 1) {
                fprintf(f, "policy %lld\n", (long long) m->header.policy_serial);
                put_text(f, "issuer", m->header.issuer);
                put_text(f, "contract", m->header.contract);
                put_text(f, "contractor", m->header.contractor);
                put_text(f, "responsible", m->header.responsible);
        }
        fprintf(f, "records %llu\n", (unsigned long long) m->records);
        if (m->version != 1)
                fprintf(f, "ledger-first %lld %s\n", (long long) m->ledger_seq, first);
        fprintf(f, "chain-start %lld %s\nchain-end %lld %s\n", (long long) m->start_seq, start, (long long) m->end_seq,
                end);
        for (size_t i = 0; i < m->n_files; i++) {
                hex_encode(m->files[i].sha256, 32, h);
                fprintf(f, "%s  %s\n", h, m->files[i].name);
        }
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        *ret_size = size;
        return 0;
}

/* The next line of TEXT at *P (without its LF) into LINE; false at the end or for a line
 * without its LF or with a NUL. */
static bool next_line(const char *text, size_t size, size_t *p, char *line, size_t line_size) {
        const char *s = text + *p, *nl = memchr(s, '\n', size - *p);
        size_t n;

        if (*p >= size || !nl)
                return false;
        n = (size_t) (nl - s);
        if (n >= line_size || memchr(s, 0, n))
                return false;
        memcpy(line, s, n);
        line[n] = 0;
        *p += n + 1;
        return true;
}

static bool is_export_file(const char *name) {
        static const char *const names[] = { "faults.csv", "media.csv", "records.jsonl", "report.html", "report.pdf",
                                             "usage.csv" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(name, names[i]))
                        return true;
        return false;
}

/* "KEY VALUE" with VALUE non-empty: returns VALUE or NULL. */
static const char *value_of(const char *line, const char *key) {
        size_t n = strlen(key);
        if (strncmp(line, key, n) != 0 || line[n] != ' ' || line[n + 1] == 0)
                return NULL;
        return line + n + 1;
}

/* Decimal as manifest_format prints it: digits only, no sign, no leading zero, at most MAX.
 * Returns the number of characters read, 0 if there is no such number at S. */
static size_t parse_decimal(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;
        size_t i;

        for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
                unsigned d = (unsigned) (s[i] - '0');
                if ((i == 1 && s[0] == '0') || v > (max - d) / 10)
                        return 0;
                v = v * 10 + d;
        }
        if (i > 0)
                *ret = v;
        return i;
}

/* "SEQ HASH": one space, 64 lowercase hex digits (as hex_encode() writes them), nothing after. */
static int parse_chain(const char *v, int64_t *ret_seq, uint8_t *ret_hash) {
        uint64_t seq;
        size_t n = parse_decimal(v, INT64_MAX, &seq);

        if (n == 0 || v[n] != ' ' || hex_parse_bytes(v + n + 1, strlen(v + n + 1), 0, HEX_LOWERCASE, ret_hash,
                                                     LEDGER_HASH_SIZE) < 0)
                return -EBADMSG;
        *ret_seq = (int64_t) seq;
        return 0;
}

/* "SHA256  NAME" as sha256sum(1) writes it: 64 lowercase hex digits, two spaces, a known name,
 * nothing after. */
static int parse_file_line(const char *line, uint8_t *ret_hash, char *ret_name, size_t name_size) {
        const char *name = line + 64 + 2;

        if (strnlen(line, 66) < 66 || line[64] != ' ' || line[65] != ' ' || !is_export_file(name) ||
            strlen(name) >= name_size || hex_parse_bytes(line, 64, 0, HEX_LOWERCASE, ret_hash, 32) < 0)
                return -EBADMSG;
        strcpy(ret_name, name);
        return 0;
}

/* Header text (version 2): "KEY" for empty, "KEY VALUE" with VALUE sanitised text that fits. */
static bool parse_text(const char *line, const char *key, char *ret, size_t size) {
        char clean[EXPORT_HEADER_MAX];
        const char *v;

        if (streq(line, key)) {
                ret[0] = 0;
                return true;
        }
        if (!(v = value_of(line, key)) || strlen(v) >= size || ledger_text_set(clean, sizeof clean, v) != strlen(v) ||
            !streq(clean, v))
                return false;
        strcpy(ret, v);
        return true;
}

int manifest_parse(const char *text, size_t size, struct manifest *ret, char *err, size_t err_size) {
        enum { K_HOST, K_MACHINE, K_WEEK, K_KEY, K_POLICY, K_ISSUER, K_CONTRACT, K_CONTRACTOR, K_RESPONSIBLE,
               K_RECORDS, K_LEDGER, K_START, K_END };
        static const char *const keys[] = { "host", "machine-id", "week", "key", "policy", "issuer", "contract",
                                            "contractor", "responsible", "records", "ledger-first", "chain-start",
                                            "chain-end" };
        struct manifest m = {};
        char line[EXPORT_HEADER_MAX + 64];
        size_t p = 0, line_no = 1, n;
        uint64_t v64 = 0;

        if (!next_line(text, size, &p, line, sizeof line) ||
            (!streq(line, "kyoka-export 1") && !streq(line, "kyoka-export 2"))) {
                snprintf(err, err_size, "MANIFEST: not a kyoka export manifest (first line)");
                return -EBADMSG;
        }
        m.version = (unsigned) (line[13] - '0');
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *v = NULL;
                /* Version 1 has neither the header nor ledger-first. */
                if (m.version == 1 && ((i >= K_POLICY && i <= K_RESPONSIBLE) || i == K_LEDGER))
                        continue;
                line_no++;
                bool ok = next_line(text, size, &p, line, sizeof line);
                if (ok && i >= K_ISSUER && i <= K_RESPONSIBLE) {
                        char *dst = i == K_ISSUER ? m.header.issuer : i == K_CONTRACT ? m.header.contract :
                                    i == K_CONTRACTOR ? m.header.contractor : m.header.responsible;
                        ok = parse_text(line, keys[i], dst, EXPORT_HEADER_MAX);
                } else if (ok && (v = value_of(line, keys[i])))
                        switch (i) {
                        case K_HOST: ok = strlen(v) < sizeof m.host; if (ok) strcpy(m.host, v); break;
                        case K_MACHINE: ok = strlen(v) < sizeof m.machine_id; if (ok) strcpy(m.machine_id, v); break;
                        case K_WEEK: ok = strlen(v) < sizeof m.week; if (ok) strcpy(m.week, v); break;
                        case K_KEY: ok = strlen(v) == KEY_FINGERPRINT_HEX - 1; if (ok) strcpy(m.key, v); break;
                        case K_POLICY:
                                n = parse_decimal(v, INT64_MAX, &v64);
                                ok = n > 0 && v[n] == 0;
                                m.header.policy_serial = (int64_t) v64;
                                break;
                        case K_RECORDS: n = parse_decimal(v, UINT64_MAX, &m.records); ok = n > 0 && v[n] == 0; break;
                        case K_LEDGER: ok = parse_chain(v, &m.ledger_seq, m.ledger_hash) == 0; break;
                        case K_START: ok = parse_chain(v, &m.start_seq, m.start_hash) == 0; break;
                        case K_END: ok = parse_chain(v, &m.end_seq, m.end_hash) == 0; break;
                        default: ok = false;
                        }
                else
                        ok = false;
                if (!ok) {
                        snprintf(err, err_size, "MANIFEST line %zu: expected \"%s VALUE\"", line_no, keys[i]);
                        return -EBADMSG;
                }
        }
        if (m.end_seq < m.start_seq || (uint64_t) (m.end_seq - m.start_seq) != m.records) {
                snprintf(err, err_size, "MANIFEST: the chain's seqs do not span \"records\"");
                return -EBADMSG;
        }
        while (p < size) {
                uint8_t hash[32];
                char name[sizeof m.files[0].name];
                line_no++;
                if (!next_line(text, size, &p, line, sizeof line) ||
                    parse_file_line(line, hash, name, sizeof name) < 0 || m.n_files >= MANIFEST_FILES_MAX ||
                    (m.n_files > 0 && strcmp(m.files[m.n_files - 1].name, name) >= 0)) {
                        snprintf(err, err_size, "MANIFEST line %zu: expected \"SHA256  FILE\" (known files, sorted, once each)",
                                 line_no);
                        return -EBADMSG;
                }
                memcpy(m.files[m.n_files].sha256, hash, 32);
                strcpy(m.files[m.n_files].name, name);
                m.n_files++;
        }
        *ret = m;
        return 0;
}

int manifest_read(const char *dir, struct manifest *ret, char *err, size_t err_size) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        r = read_file_at(dfd, "MANIFEST", MANIFEST_TEXT_MAX, &text, &size);
        if (r < 0)
                return r;
        return manifest_parse(text, size, ret, err, err_size);
}
