/* SPDX-License-Identifier: MIT */
/* libFuzzer target for request_from_json: a request file comes from whoever hands it to the
 * admin, so it must never crash, leak or read out of bounds. What parses must serialise and
 * parse again to the same identity (the round trip `policyctl approve --request` relies on). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ struct request *req = calloc(1, sizeof *req);
        _cleanup_free_ struct request *again = calloc(1, sizeof *again);
        _cleanup_free_ char *err = NULL, *json = NULL, *err2 = NULL;

        if (!req || !again)
                return 0;
        if (request_from_json((const char *) data, size, req, &err) < 0)
                return 0;
        if (err)
                abort();                /* no message on success */
        if (request_to_json(req, &json) < 0)
                abort();
        if (request_from_json(json, strlen(json), again, &err2) < 0)
                abort();
        /* time goes through local time formatting; everything else must be identical */
        if (req->type != again->type || req->time != again->time)
                abort();
        if (req->type == REQUEST_USB && memcmp(&req->usb, &again->usb, sizeof req->usb) != 0)
                abort();
        if (req->type == REQUEST_NETWORK && memcmp(&req->net, &again->net, sizeof req->net) != 0)
                abort();
        return 0;
}
