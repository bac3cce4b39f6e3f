/* SPDX-License-Identifier: MIT */
/* The city's side (docs/ledger.md, "Collecting a contract's exports"): the weekly exports of
 * many workstations of one contract, each workstation's export key, and one summary across
 * workstations and weeks: OUT/summary.csv, summary.html and summary.pdf. Every week of every
 * workstation is verified (signature, files, chain), each against the week before (nothing
 * removed between them, the same ledger), and the weeks missing in the contract's range are
 * listed; bad or missing input is named per workstation and week, never skipped. */
#pragma once

#include <stddef.h>

#include "export.h"

struct collect_options {
        enum export_lang lang;
        bool pdf;                         /* also summary.pdf */
        const char *pdf_engine;           /* NULL: EXPORT_PDF_ENGINE */
};

struct collect_result {
        size_t keys, workstations, weeks; /* weeks: rows, missing ones included */
        size_t good;                      /* weeks verified and following the one before */
        size_t problems;                  /* named problems (rows not good, keys, folders) */
};

/* Called once per problem found, in English (a line for the terminal; the summary has it too). */
typedef void (*collect_problem_fn)(const char *text, void *userdata);

/* KEYDIR holds the workstations' export.pub files under any names; DIRS are export folders: a
 * week's (it holds MANIFEST), a workstation's (its weeks below it) or the --out folder of
 * `policyctl export` (workstations below it). Writes OUT (made if missing). Returns 0 if every
 * week verified and nothing is missing, a positive count of problems otherwise (the summary
 * is written all the same), a negative errno if the summary could not be made (ERR says what). */
int collect_run(const char *keydir, char *const *dirs, size_t n_dirs, const char *out,
                const struct collect_options *opts, collect_problem_fn on_problem, void *userdata,
                struct collect_result *ret, char *err, size_t err_size);
