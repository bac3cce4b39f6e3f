/* SPDX-License-Identifier: MIT */
/* The client side of kyokad's control socket (docs/control.md) for the online verbs: one
 * SOCK_SEQPACKET connection, one JSON object per message, replies bounded like kyokad's. */
#include <errno.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fileio.h"
#include "json-util.h"
#include "kyoka-names.h"
#include "policyctl.h"

#define REPLY_TIMEOUT_SEC 60          /* a reload re-evaluates every device; still, never hang */

int control_connect(bool quiet_if_absent, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_free_ char *path = path_join(arg_runtime_dir, KYOKA_CONTROL_SOCKET);
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!path)
                return log_oom();
        if (strlen(path) >= sizeof sa.sun_path)
                return log_error_errno(-ENAMETOOLONG, "%s: %m", path);
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(negative_errno(), _("cannot create a socket: %m"));
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                r = negative_errno();
                if (quiet_if_absent && (r == -ENOENT || r == -ECONNREFUSED))
                        return r;
                if (r == -ENOENT || r == -ECONNREFUSED)
                        return log_error_errno(r, _("kyokad is not running (no control socket at %s)"), path);
                if (r == -EACCES)
                        return log_error_errno(r, _("%s: permission denied (needs root, group %s or %s)"), path,
                                               KYOKA_GROUP_READ, KYOKA_GROUP_ADMIN);
                return log_error_errno(r, _("cannot connect to %s: %m"), path);
        }
        struct timeval tv = { .tv_sec = REPLY_TIMEOUT_SEC };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* kyokad may refuse a connection (too many from this user, docs/control.md "Limits") before it
 * has read our command: its reply then waits in our socket while send() fails. Says it, if so. */
static bool print_refusal(int fd) {
        char buf[1024];
        ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        struct json_object *o;
        const char *e;

        if (n <= 0)
                return false;
        buf[n] = 0;
        o = json_tokener_parse(buf);
        e = json_get_string(o, "error");
        if (e) {
                fputs("policyctl: kyokad: ", stderr);
                fputs_safe(e, stderr);
                fputc('\n', stderr);
        }
        json_object_put(o);
        return e;
}

static int send_command(int fd, const char *cmd, const char *device, const char *type, const char *ssid_hex) {
        struct json_object *o = json_object_new_object();
        const char *s;
        size_t n;
        int r = 0;

        if (!o || json_add_string(o, "cmd", cmd) < 0 || (device && json_add_string(o, "device", device) < 0) ||
            (type && json_add_string(o, "type", type) < 0) || (ssid_hex && json_add_string(o, "ssid_hex", ssid_hex) < 0)) {
                json_object_put(o);
                return log_oom();
        }
        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
        if (!s)
                r = -ENOMEM;
        else if (n > KYOKA_CONTROL_MESSAGE_MAX)
                r = -EMSGSIZE;
        else if (send(fd, s, n, MSG_NOSIGNAL) < 0)
                r = negative_errno();
        json_object_put(o);
        if ((r == -EPIPE || r == -ECONNRESET) && print_refusal(fd))
                return r;
        if (r < 0)
                return log_error_errno(r, _("cannot send to kyokad: %m"));
        return 0;
}

int control_send(int fd, const char *cmd, const char *device) {
        return send_command(fd, cmd, device, NULL, NULL);
}

int control_receive(int fd, struct json_object **ret) {
        _cleanup_free_ char *buf = malloc(KYOKA_CONTROL_REPLY_MAX + 1);
        struct json_tokener *tok;
        struct json_object *o;
        ssize_t n;

        if (!buf)
                return log_oom();
        do
                n = recv(fd, buf, KYOKA_CONTROL_REPLY_MAX + 1, MSG_TRUNC);
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return log_error_errno(-ETIMEDOUT, _("kyokad did not reply within %d s"), REPLY_TIMEOUT_SEC);
        if (n < 0)
                return log_error_errno(negative_errno(), _("cannot receive from kyokad: %m"));
        if (n == 0)
                return -ECONNRESET;
        if ((size_t) n > KYOKA_CONTROL_REPLY_MAX)
                return log_error_errno(-EMSGSIZE, _("kyokad's reply is larger than %u bytes"), KYOKA_CONTROL_REPLY_MAX);

        tok = json_tokener_new();
        if (!tok)
                return log_oom();
        o = json_tokener_parse_ex(tok, buf, (int) n);
        bool good = o && json_tokener_get_error(tok) == json_tokener_success &&
                    json_tokener_get_parse_end(tok) == (size_t) n && json_object_is_type(o, json_type_object);
        json_tokener_free(tok);
        if (!good) {
                json_object_put(o);
                return log_error_errno(-EBADMSG, _("kyokad sent a malformed message"));
        }
        *ret = o;
        return 0;
}

const char *json_get_string(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

void print_device_name(struct json_object *d, FILE *f) {
        const char *serial = json_get_string(d, "serial"), *man = json_get_string(d, "manufacturer"),
                   *prod = json_get_string(d, "product_name");

        fputs_safe(json_get_string(d, "device") ?: "?", f);
        fprintf(f, " %.4s:%.4s", json_get_string(d, "vendor") ?: "????", json_get_string(d, "product") ?: "????");
        if (man && man[0]) {
                fputc(' ', f);
                fputs_safe(man, f);
        }
        if (prod && prod[0]) {
                fputc(' ', f);
                fputs_safe(prod, f);
        }
        fputs(" (serial ", f);
        if (serial) {
                fputc('"', f);
                fputs_safe(serial, f);
                fputc('"', f);
        } else
                fputs("none", f);
        fputc(')', f);
}

/* ", LABEL VALUE" for a non-empty string member KEY of O. */
static void print_part(struct json_object *o, const char *key, const char *label, FILE *f) {
        const char *v = json_get_string(o, key);

        if (!v || !v[0])
                return;
        fprintf(f, ", %s ", label);
        fputs_safe(v, f);
}

void print_link_name(struct json_object *l, FILE *f) {
        struct json_object *v = NULL;
        const char *mac = json_get_string(l, "mac");

        fputs_safe(json_get_string(l, "name") ?: "?", f);
        (void) json_object_object_get_ex(l, "ifindex", &v);
        fprintf(f, " (ifindex %d) ", json_object_get_int(v));
        if (mac) {
                fputs_safe(mac, f);
                v = NULL;
                if (!json_object_object_get_ex(l, "mac_permanent", &v) || !json_object_get_boolean(v))
                        fputs(" (not permanent)", f);
        } else
                fputs("no MAC", f);
        print_part(l, "kind", "kind", f);
        print_part(l, "path", "path", f);
        print_part(l, "driver", "driver", f);
}

int control_call(const char *cmd, const char *device, struct json_object **ret) {
        return control_call_type(cmd, device, NULL, ret);
}

int control_call_type(const char *cmd, const char *device, const char *type, struct json_object **ret) {
        return control_call_wireless(cmd, device, type, NULL, ret);
}

int control_call_wireless(const char *cmd, const char *device, const char *type, const char *ssid_hex,
                          struct json_object **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct json_object *reply = NULL, *ok;
        int r;

        r = control_connect(false, &fd);
        if (r < 0)
                return r;
        r = send_command(fd, cmd, device, type, ssid_hex);
        if (r < 0)
                return r;
        r = control_receive(fd, &reply);
        if (r == -ECONNRESET)
                return log_error_errno(r, _("kyokad closed the connection without a reply"));
        if (r < 0)
                return r;
        *ret = reply;
        if (!json_object_object_get_ex(reply, "ok", &ok) || !json_object_get_boolean(ok)) {
                const char *e = json_get_string(reply, "error");
                fputs("policyctl: kyokad: ", stderr);
                fputs_safe(e ? e : "refused", stderr);
                fputc('\n', stderr);
                return -EBADE;
        }
        return 0;
}
