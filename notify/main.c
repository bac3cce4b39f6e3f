/* SPDX-License-Identifier: MIT */
/* kyoka-notify: tells the person at the keyboard, at once and in their language, what kyokad
 * blocked on their seat, why and what to do, and makes the request file for them
 * (docs/notify.md). A user service of the desktop session: it watches kyokad's control socket
 * (as the active user of a seat it receives only that seat's records, docs/control.md) and
 * talks to the session's notification server (org.freedesktop.Notifications) over sd-bus.
 *
 * One thread, one sd-event loop: the watch connection, the bus, a timer for coalesced link
 * attempts, one for reconnecting, one for the daily expiry check. The short calls (request,
 * status, Notify) block with a timeout of a few seconds: kyokad answers in milliseconds, and a
 * notifier that waits a moment loses nothing (the records wait in the socket). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "i18n.h"
#include "identity.h"
#include "json-util.h"
#include "kyoka-names.h"
#include "macro.h"
#include "notify-state.h"
#include "notify-text.h"
#include "request-save.h"
#include "timeutil.h"

#define CALL_TIMEOUT_SEC 5
#define BUS_TIMEOUT_USEC (3 * NOTIFY_USEC_PER_SEC)
#define RECONNECT_MIN_USEC (1 * NOTIFY_USEC_PER_SEC)
#define RECONNECT_MAX_USEC (30 * NOTIFY_USEC_PER_SEC)
#define EXPIRY_INTERVAL_USEC (24 * 3600 * NOTIFY_USEC_PER_SEC)
#define EXPIRY_DAYS_DEFAULT 14
#define EXPIRY_DAYS_MAX 365

#define NOTIFICATIONS_NAME "org.freedesktop.Notifications"
#define NOTIFICATIONS_PATH "/org/freedesktop/Notifications"
#define APP_NAME "kyoka"
#define NOTIFY_BUS_NAME "jp.kyoka.Notify"

static const char *arg_runtime_dir = KYOKA_RUNTIME_DIR;
static char *arg_request_dir;
static unsigned arg_expiry_days = EXPIRY_DAYS_DEFAULT;

struct notifier {
        sd_event *event;
        sd_bus *bus;
        int fd;                       /* the watch connection; -EBADF while there is none */
        sd_event_source *io, *reconnect, *coalesce, *expiry;
        bool watching;                /* kyokad said yes to "watch" */
        uint64_t backoff_usec;
        uint64_t expiry_checked_usec; /* CLOCK_BOOTTIME of the last expiry check (a suspended day counts); 0: never */
        char said[256];               /* the last connection problem logged, not repeated */
        char seat[USB_SEAT_MAX];      /* this session's seat (XDG_SEAT): others' records are not ours */
        int markup;                   /* the server renders body markup: -1 not asked yet, 0, 1 */
        struct notify_state state;
        char *buf;
};

_printf_(1, 2) static void say(const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        fputs("kyoka-notify: ", stderr);
        vfprintf(stderr, format, ap);
        fputc('\n', stderr);
        va_end(ap);
}

static uint64_t now_usec(struct notifier *n) {
        uint64_t t = 0;
        (void) sd_event_now(n->event, CLOCK_MONOTONIC, &t);
        return t;
}

static uint64_t boot_usec(struct notifier *n) {
        uint64_t t = 0;
        (void) sd_event_now(n->event, CLOCK_BOOTTIME, &t);
        return t;
}

static const char *get(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* ---- the control socket ------------------------------------------------------------------ */

static int control_open(int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_free_ char *path = path_join(arg_runtime_dir, KYOKA_CONTROL_SOCKET);
        _cleanup_close_ int fd = -EBADF;

        if (!path)
                return -ENOMEM;
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return negative_errno();
        struct timeval tv = { .tv_sec = CALL_TIMEOUT_SEC };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int control_send(int fd, const char *cmd, const char *device, const char *type) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        const char *s;
        size_t len;

        if (!o || json_object_object_add(o, "cmd", json_object_new_string(cmd)) < 0 ||
            (device && json_object_object_add(o, "device", json_object_new_string(device)) < 0) ||
            (type && json_object_object_add(o, "type", json_object_new_string(type)) < 0))
                return -ENOMEM;
        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
        if (!s)
                return -ENOMEM;
        /* Refused at accept: kyokad's reply waits in the socket all the same. */
        if (send(fd, s, len, MSG_NOSIGNAL) < 0 && errno != EPIPE)
                return negative_errno();
        return 0;
}

/* One message: exactly one JSON object, at most KYOKA_CONTROL_REPLY_MAX bytes. -EAGAIN when
 * none waits (non-blocking), -ECONNRESET at the end, -EBADMSG for anything malformed. */
static int control_recv(int fd, char *buf, int flags, struct json_object **ret) {
        ssize_t len;

        do
                len = recv(fd, buf, KYOKA_CONTROL_REPLY_MAX + 1, MSG_TRUNC | flags);
        while (len < 0 && errno == EINTR);
        if (len < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : negative_errno();
        if (len == 0)
                return -ECONNRESET;
        if ((size_t) len > KYOKA_CONTROL_REPLY_MAX)
                return -EBADMSG;
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        struct json_object *o = json_tokener_parse_ex(tok, buf, (int) len);
        bool good = o && json_tokener_get_error(tok) == json_tokener_success &&
                    json_tokener_get_parse_end(tok) == (size_t) len && json_object_is_type(o, json_type_object);
        json_tokener_free(tok);
        if (!good) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

static bool reply_ok(struct json_object *o) {
        struct json_object *v;
        return json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v);
}

/* One command on a connection of its own; *RET is kyokad's reply, ok or not. */
static int control_call(struct notifier *n, const char *cmd, const char *device, const char *type,
                        struct json_object **ret) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = control_open(&fd);
        if (r >= 0)
                r = control_send(fd, cmd, device, type);
        if (r >= 0)
                r = control_recv(fd, n->buf, 0, ret);
        return r;
}

/* ---- the notification server ------------------------------------------------------------- */

/* Notify(app_name, replaces_id, icon, summary, body, actions, hints, expire_timeout). With
 * ACTIONS, 「許可を申請」 as the default action (a click on the notification, `dunstctl action`)
 * and as a button of its own ("request") for servers that show only buttons. TIMEOUT_MS 0:
 * stays until closed (the blocked device is still there). */
/* Whether the server renders markup in bodies (GetCapabilities has "body-markup"): then a
 * device's name such as "AT&T <Stick>" must be escaped, or it is garbled or not shown. Asked
 * once it answers; a server without it shows text as it is. */
static bool server_markup(struct notifier *n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *cap;

        if (n->markup >= 0)
                return n->markup;
        if (sd_bus_call_method(n->bus, NOTIFICATIONS_NAME, NOTIFICATIONS_PATH, NOTIFICATIONS_NAME, "GetCapabilities", NULL,
                               &reply, NULL) < 0 ||
            sd_bus_message_enter_container(reply, 'a', "s") < 0)
                return true;          /* not known yet: escaping is the safe guess, asked again next time */
        n->markup = 0;
        while (sd_bus_message_read(reply, "s", &cap) > 0)
                if (streq(cap, "body-markup"))
                        n->markup = 1;
        return n->markup;
}

static int notify(struct notifier *n, uint32_t replaces, const struct notify_text *t, bool actions, int32_t timeout_ms,
                  uint32_t *ret_id) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char body[NOTIFY_TEXT_MAX * 5];
        uint32_t id;
        int r;

        if (server_markup(n))
                notify_escape_markup(t->body, body, sizeof body);
        else
                snprintf(body, sizeof body, "%s", t->body);

        r = sd_bus_message_new_method_call(n->bus, &m, NOTIFICATIONS_NAME, NOTIFICATIONS_PATH, NOTIFICATIONS_NAME, "Notify");
        if (r >= 0)
                r = sd_bus_message_append(m, "susss", APP_NAME, replaces, "dialog-warning", t->summary, body);
        if (r >= 0)
                r = actions ? sd_bus_message_append(m, "as", 4, "default", notify_action_label(), "request",
                                                    notify_action_label()) :
                              sd_bus_message_append(m, "as", 0);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 2, "urgency", "y", (uint8_t) (actions ? 2 : 1), "desktop-entry", "s",
                                          "kyoka-notify");
        if (r >= 0)
                r = sd_bus_message_append(m, "i", timeout_ms);
        if (r < 0)
                return r;
        r = sd_bus_call(n->bus, m, BUS_TIMEOUT_USEC, &error, &reply);
        if (r < 0) {
                say("cannot show a notification: %s", error.message ?: strerrordesc_np(-r));
                return r;
        }
        r = sd_bus_message_read(reply, "u", &id);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

static void show_item(struct notifier *n, struct notify_item *it) {
        struct notify_text t;
        uint32_t id = 0;
        bool request = true;

        if (it->kind == NOTIFY_USB)
                request = notify_text_usb_blocked(it->record, &t);
        else
                notify_text_link_blocked(it->record, it->attempts, &t);
        /* Shown or not, it counts as said: a server that is down must not make a storm later. */
        (void) notify(n, it->id, &t, request, 0, &id);
        notify_state_shown(it, id ?: it->id, now_usec(n));
}

static int on_coalesce(sd_event_source *s, uint64_t usec, void *userdata);

static void coalesce_arm(struct notifier *n) {
        uint64_t next;
        struct notify_item *it;

        while ((it = notify_state_next_due(&n->state, now_usec(n), &next)))
                show_item(n, it);
        if (next == UINT64_MAX) {
                (void) sd_event_source_set_enabled(n->coalesce, SD_EVENT_OFF);
                return;
        }
        if (!n->coalesce) {
                if (sd_event_add_time(n->event, &n->coalesce, CLOCK_MONOTONIC, next, 0, on_coalesce, n) < 0)
                        say("cannot arm the coalescing timer: a link's further attempts are told with its next one");
                return;
        }
        (void) sd_event_source_set_time(n->coalesce, next);
        (void) sd_event_source_set_enabled(n->coalesce, SD_EVENT_ONESHOT);
}

static int on_coalesce(sd_event_source *s, uint64_t usec, void *userdata) {
        coalesce_arm(userdata);
        return 0;
}

/* ---- 「許可を申請」 ------------------------------------------------------------------------ */

static void make_request(struct notifier *n, struct notify_item *it) {
        _cleanup_(json_object_putp) struct json_object *reply = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL, *path = NULL;
        struct notify_text t;
        char name[256];
        int r;

        r = control_call(n, KYOKA_CMD_REQUEST, it->key, it->kind == NOTIFY_USB ? "usb" : "network", &reply);
        if (r < 0 || !reply_ok(reply)) {
                say("request for %s: %s", it->key, r < 0 ? strerrordesc_np(-r) : get(reply, "error") ?: "refused");
                notify_text_request_failed(_("The device or connection is no longer there, or kyokad did not answer."), &t);
                (void) notify(n, 0, &t, false, -1, NULL);
                return;
        }
        r = request_file_text(reply, &text, &error);
        if (r >= 0)
                r = request_file_name(get(reply, "device") ?: it->key, (int64_t) time(NULL), name, sizeof name);
        if (r >= 0)
                r = request_save(arg_request_dir, name, text, &path);
        if (r < 0) {
                say("request for %s: cannot write it to %s: %s", it->key, arg_request_dir, error ?: strerrordesc_np(-r));
                char why[512];
                snprintf(why, sizeof why, _("The request file could not be written to %s (%s)."), arg_request_dir,
                         strerrordesc_np(-r));
                notify_text_request_failed(why, &t);
                (void) notify(n, 0, &t, false, -1, NULL);
                return;
        }
        say("request for %s written to %s", it->key, path);
        notify_text_request_saved(path, &t);
        (void) notify(n, 0, &t, false, 0, NULL);
}

static int on_action(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct notifier *n = userdata;
        const char *key;
        uint32_t id;

        if (sd_bus_message_read(m, "us", &id, &key) < 0)
                return 0;
        struct notify_item *it = notify_state_find_id(&n->state, id);
        if (it && (streq(key, "default") || streq(key, "request")))
                make_request(n, it);
        return 0;
}

/* ---- expiry ------------------------------------------------------------------------------ */

static void announce_if_soon(struct notifier *n, bool policy, const char *end_time, const char *date, const char *what,
                             const char *name) {
        struct notify_text t;
        int64_t end, days;

        if (!end_time || time_parse_iso8601(end_time, &end, NULL) < 0 ||
            !notify_expiry_soon(end, (int64_t) time(NULL), arg_expiry_days, &days))
                return;
        notify_text_expiry(policy, what, name, date ?: end_time, days, &t);
        (void) notify(n, 0, &t, false, -1, NULL);
}

static void check_expiry(struct notifier *n) {
        _cleanup_(json_object_putp) struct json_object *reply = NULL;
        struct json_object *policy = NULL, *permits = NULL;

        if (arg_expiry_days == 0)
                return;
        n->expiry_checked_usec = boot_usec(n);
        if (control_call(n, KYOKA_CMD_STATUS, NULL, NULL, &reply) < 0 || !reply_ok(reply))
                return;
        if (json_object_object_get_ex(reply, "policy", &policy) && streq_ptr(get(policy, "state"), "enforcing"))
                announce_if_soon(n, true, get(policy, "valid_until_time"), get(policy, "valid_until"),
                                 get(policy, "contract"), NULL);
        /* Only a seat's user's status has them: the permits of its own devices and links. */
        if (!json_object_object_get_ex(reply, "permits", &permits) || !json_object_is_type(permits, json_type_array))
                return;
        for (size_t i = 0; i < json_object_array_length(permits); i++) {
                struct json_object *p = json_object_array_get_idx(permits, i);
                char name[768];
                if (streq_ptr(get(p, "type"), "network"))
                        notify_link_name(p, name, sizeof name);
                else
                        notify_usb_name(p, name, sizeof name);
                announce_if_soon(n, false, get(p, "valid_until_time"), get(p, "valid_until"), get(p, "permit") ?: "", name);
        }
}

static int on_expiry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct notifier *n = userdata;

        check_expiry(n);
        (void) sd_event_source_set_time(s, usec + EXPIRY_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* ---- the watch --------------------------------------------------------------------------- */

static void said_once(struct notifier *n, const char *what) {
        if (streq(n->said, what))
                return;
        snprintf(n->said, sizeof n->said, "%s", what);
        say("%s", what);
}

static void disconnect(struct notifier *n);

static void handle_record(struct notifier *n, struct json_object *record) {
        struct notify_item *it = NULL;
        const char *seat = get(record, "seat");

        /* kyokad sends a seat's user only that seat's records; a member of group kyoka gets all,
         * and is told of its own seat's only. */
        if (n->seat[0] && streq_ptr(get(record, "subject"), "usb") && !streq_ptr(seat, n->seat))
                return;
        switch (notify_state_record(&n->state, record, now_usec(n), &it)) {
        case NOTIFY_SHOW:
                show_item(n, it);
                break;
        case NOTIFY_LATER:
                coalesce_arm(n);
                break;
        case NOTIFY_IGNORE:
                break;
        }
}

static int on_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct notifier *n = userdata;

        for (unsigned i = 0; i < 64; i++) {
                struct json_object *o = NULL;
                int r = control_recv(n->fd, n->buf, MSG_DONTWAIT, &o);
                if (r == -EAGAIN)
                        return 0;
                if (r < 0) {
                        char what[256];
                        snprintf(what, sizeof what, "kyokad closed the connection (%s): connecting again",
                                 r == -ECONNRESET ? "stopped, or this session's seat changed" : strerrordesc_np(-r));
                        said_once(n, what);
                        disconnect(n);
                        return 0;
                }
                if (!n->watching) {
                        if (!reply_ok(o)) {
                                char what[256];
                                snprintf(what, sizeof what, "kyokad refused: %s", get(o, "error") ?: "?");
                                said_once(n, what);
                                json_object_put(o);
                                disconnect(n);
                                return 0;
                        }
                        n->watching = true;
                        n->backoff_usec = 0;
                        said_once(n, "watching kyokad's decisions");
                        if (!n->expiry_checked_usec || boot_usec(n) - n->expiry_checked_usec >= EXPIRY_INTERVAL_USEC)
                                check_expiry(n);
                } else
                        handle_record(n, o);
                json_object_put(o);
        }
        return 0;
}

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata);

static void connect_watch(struct notifier *n) {
        int r = control_open(&n->fd);

        if (r >= 0)
                r = control_send(n->fd, KYOKA_CMD_WATCH, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_io(n->event, &n->io, n->fd, EPOLLIN, on_watch, n);
        if (r < 0) {
                char what[256];
                snprintf(what, sizeof what, "cannot reach kyokad at %s/%s: %s: trying again", arg_runtime_dir,
                         KYOKA_CONTROL_SOCKET, strerrordesc_np(-r));
                said_once(n, what);
                disconnect(n);
        }
}

static void disconnect(struct notifier *n) {
        n->io = sd_event_source_disable_unref(n->io);
        if (n->fd >= 0)
                (void) close(n->fd);
        n->fd = -EBADF;
        n->watching = false;
        n->backoff_usec = n->backoff_usec ? MIN(n->backoff_usec * 2, RECONNECT_MAX_USEC) : RECONNECT_MIN_USEC;
        uint64_t at = now_usec(n) + n->backoff_usec;
        if (!n->reconnect) {
                if (sd_event_add_time(n->event, &n->reconnect, CLOCK_MONOTONIC, at, 0, on_reconnect, n) < 0)
                        (void) sd_event_exit(n->event, -ENOMEM);
                return;
        }
        (void) sd_event_source_set_time(n->reconnect, at);
        (void) sd_event_source_set_enabled(n->reconnect, SD_EVENT_ONESHOT);
}

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata) {
        connect_watch(userdata);
        return 0;
}

/* ---- main -------------------------------------------------------------------------------- */

static void help(void) {
        printf("Usage: kyoka-notify [OPTIONS]\n"
               "\n"
               "Show a desktop notification when kyokad blocks a USB device or a network\n"
               "connection on this session's seat, with an action that writes the request\n"
               "file for the administrator; announce the policy's and the permits' end.\n"
               "Runs in the desktop session (systemd user unit kyoka-notify.service, XDG\n"
               "autostart). Japanese unless the session's locale asks for another language.\n"
               "\n"
               "Options:\n"
               "  --runtime-dir DIR   kyokad's runtime directory (default " KYOKA_RUNTIME_DIR ")\n"
               "  --request-dir DIR   where request files go (default ~/" REQUEST_DIR_DEFAULT ")\n"
               "  --expiry-days N     announce an end within N days (default %d, 0: never)\n"
               "  -h --help           show this help\n",
               EXPIRY_DAYS_DEFAULT);
}

static int parse_args(int argc, char *argv[]) {
        static const struct option options[] = {
                { "runtime-dir", required_argument, NULL, 'r' },
                { "request-dir", required_argument, NULL, 'q' },
                { "expiry-days", required_argument, NULL, 'e' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        arg_runtime_dir = optarg;
                        break;
                case 'q':
                        free(arg_request_dir);
                        arg_request_dir = strdup(optarg);
                        if (!arg_request_dir)
                                return -ENOMEM;
                        break;
                case 'e': {
                        char *end;
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-' || v > EXPIRY_DAYS_MAX) {
                                say("--expiry-days: expected 0 to %d, got '%s'", EXPIRY_DAYS_MAX, optarg);
                                return -EINVAL;
                        }
                        arg_expiry_days = (unsigned) v;
                        break;
                }
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                say("unexpected argument '%s'", argv[optind]);
                return -EINVAL;
        }
        if (!arg_request_dir) {
                const char *home = getenv("HOME");
                if (!home || home[0] != '/') {
                        say("HOME is not set: give --request-dir");
                        return -EINVAL;
                }
                arg_request_dir = path_join(home, REQUEST_DIR_DEFAULT);
                if (!arg_request_dir)
                        return -ENOMEM;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        struct notifier n = { .fd = -EBADF, .markup = -1 };
        int r;

        (void) notify_i18n_setup(notify_language(getenv("LC_ALL"), getenv("LC_MESSAGES"), getenv("LANG")),
                                 NULL);
        r = parse_args(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        /* The session's seat: XDG_SEAT, as pam_systemd sets it, else sd-login's answer. */
        const char *seat = getenv("XDG_SEAT");
        _cleanup_free_ char *session = NULL, *session_seat = NULL;
        if (!seat && sd_pid_get_session(0, &session) >= 0 && sd_session_get_seat(session, &session_seat) >= 0)
                seat = session_seat;
        if (seat && strlen(seat) < sizeof n.seat)
                snprintf(n.seat, sizeof n.seat, "%s", seat);

        n.buf = malloc(KYOKA_CONTROL_REPLY_MAX + 1);
        if (!n.buf)
                return 1;
        r = sd_event_default(&n.event);
        if (r >= 0)
                r = sd_bus_open_user(&n.bus);
        if (r < 0) {
                say("cannot reach the session bus: %s", strerrordesc_np(-r));
                return 1;
        }
        /* One notifier per session: the systemd user unit and the XDG autostart entry may both
         * start one (docs/notify.md). The name is the lock; the second one leaves quietly. */
        r = sd_bus_request_name(n.bus, NOTIFY_BUS_NAME, 0);
        if (r == -EEXIST) {
                say("another kyoka-notify runs in this session (%s is taken)", NOTIFY_BUS_NAME);
                return 0;
        }
        if (r < 0) {
                say("cannot take %s on the session bus: %s", NOTIFY_BUS_NAME, strerrordesc_np(-r));
                return 1;
        }
        r = sd_bus_attach_event(n.bus, n.event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_match_signal(n.bus, NULL, NULL, NOTIFICATIONS_PATH, NOTIFICATIONS_NAME, "ActionInvoked",
                                        on_action, &n);
        if (r >= 0)
                r = sd_event_add_time_relative(n.event, &n.expiry, CLOCK_BOOTTIME, EXPIRY_INTERVAL_USEC, 0, on_expiry, &n);
        if (r >= 0)
                r = sd_event_set_signal_exit(n.event, true);
        if (r < 0) {
                say("cannot set up: %s", strerrordesc_np(-r));
                return 1;
        }
        say("kyokad at %s/%s, request files to %s, expiry announced %u days ahead%s%s", arg_runtime_dir,
            KYOKA_CONTROL_SOCKET, arg_request_dir, arg_expiry_days, n.seat[0] ? ", seat " : "", n.seat);
        connect_watch(&n);
        r = sd_event_loop(n.event);

        notify_state_clear(&n.state);
        sd_event_source_disable_unref(n.io);
        sd_event_source_disable_unref(n.reconnect);
        sd_event_source_disable_unref(n.coalesce);
        sd_event_source_disable_unref(n.expiry);
        if (n.fd >= 0)
                (void) close(n.fd);
        sd_bus_flush_close_unref(n.bus);
        sd_event_unref(n.event);
        free(n.buf);
        free(arg_request_dir);
        return r < 0 ? 1 : 0;
}
