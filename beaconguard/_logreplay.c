/*
 * beaconguard._speedups, the access log's part: a request's log line, replayed.
 *
 * Python decides; this file only replays. Each column of a log line depends on one or two
 * request facts (the method; the Host header; the route or path; the query; the user
 * agent; the referrer with the host; the client address), and real traffic repeats each of
 * them far more than whole requests. Python (beaconguard/accesslog/replay.py) runs the very
 * pipeline steps the Python path runs on a fact it has not seen, and keeps the column's
 * JSON in a bounded dict; this file looks the facts up in those dicts, asks Python on a
 * miss, and joins the columns with the per-request numbers (time, status, bytes, duration)
 * into the line orjson would write for the pipeline's record. Anything unusual (header
 * names in another case or repeated, a status that is not an int, a scope of odd types)
 * goes to the Python path whole. tests/accesslog/test_replay.py holds the two to the same
 * bytes.
 *
 * Why C: the Python pipeline, its Visit and orjson cost about 90k instructions per logged
 * request; the issue allows the whole stack a quarter of the bare app (about 28k).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <structmember.h>
#include <time.h>

#include "_speedups.h"

static PyObject *s_type, *s_status, *s_body, *s_headers, *s_method, *s_path, *s_query_string,
    *s_root_path, *s_client, *s_route, *s_path_format, *s_start, *s_body_type, *b_empty;

/* The names of the request headers the log reads (lower case), by slot. */
enum { H_HOST, H_AGENT, H_REFERER, H_XFF, H_FORWARDED, H_COUNT };
static const struct {
    const char *name;
    Py_ssize_t len;
} header_names[H_COUNT] = {
    {"host", 4}, {"user-agent", 10}, {"referer", 7}, {"x-forwarded-for", 15}, {"forwarded", 9},
};

typedef struct {
    PyObject_HEAD
    /* Column caches, filled by Python (replay.py says what each holds). */
    PyObject *methods, *hosts, *paths, *routes, *queries, *agents, *referrers, *clients;
    /* Python's answer for a fact not in its cache: the column's JSON (bytes). */
    PyObject *fill_method, *fill_host, *fill_path, *fill_query, *fill_agent, *fill_referrer,
        *fill_client;
    PyObject *submit;     /* the log writer's submit(line) */
    PyObject *slow;       /* slow(scope, app_scope, observed): the Python path's record */
    PyObject *route_type; /* starlette.routing.Route: only a Route names a page */
    int proxies;          /* trusted proxies configured: the client column is asked each time */
    long long second;     /* the second ``stamp`` holds, or LLONG_MIN */
    char stamp[48];
    Py_ssize_t stamp_len;
} LogCore;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    LogCore *core;
    PyObject *send;
    PyObject *header[H_COUNT]; /* the request's values (bytes), NULL when absent */
    PyObject *odd_status;      /* a status that is not a plain int (the Python path logs it) */
    double now, started, ended;
    long status;
    Py_ssize_t bytes_sent;
    int plain;    /* the request headers were read as the Python path reads them */
    int finished;
} LogSend;

static PyTypeObject LogCoreType;
static PyTypeObject LogSendType;
static PyObject *LogSend_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                    PyObject *kwnames);

/* ------------------------------------------------------------------------------------ */

static int
LogCore_init(LogCore *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"methods", "hosts", "paths", "routes", "queries", "agents",
                             "referrers", "clients", "fill_method", "fill_host", "fill_path",
                             "fill_query", "fill_agent", "fill_referrer", "fill_client",
                             "submit", "slow", "route_type", "proxies", NULL};
    PyObject *methods, *hosts, *paths, *routes, *queries, *agents, *referrers, *clients;
    PyObject *fills[7], *submit, *slow, *route_type;
    int proxies;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwds, "$O!O!O!O!O!O!O!O!OOOOOOOOOO!p", kwlist, &PyDict_Type, &methods,
            &PyDict_Type, &hosts, &PyDict_Type, &paths, &PyDict_Type, &routes, &PyDict_Type,
            &queries, &PyDict_Type, &agents, &PyDict_Type, &referrers, &PyDict_Type, &clients,
            &fills[0], &fills[1], &fills[2], &fills[3], &fills[4], &fills[5], &fills[6], &submit,
            &slow, &PyType_Type, &route_type, &proxies)) {
        return -1;
    }
    if (self->submit != NULL) {
        PyErr_SetString(PyExc_TypeError, "LogCore is already set up");
        return -1;
    }
    for (int i = 0; i < 7; i++) {
        if (!PyCallable_Check(fills[i])) {
            PyErr_SetString(PyExc_TypeError, "LogCore: every fill_* must be callable");
            return -1;
        }
    }
    if (!PyCallable_Check(submit) || !PyCallable_Check(slow)) {
        PyErr_SetString(PyExc_TypeError, "LogCore: submit and slow must be callable");
        return -1;
    }
    self->methods = Py_NewRef(methods);
    self->hosts = Py_NewRef(hosts);
    self->paths = Py_NewRef(paths);
    self->routes = Py_NewRef(routes);
    self->queries = Py_NewRef(queries);
    self->agents = Py_NewRef(agents);
    self->referrers = Py_NewRef(referrers);
    self->clients = Py_NewRef(clients);
    self->fill_method = Py_NewRef(fills[0]);
    self->fill_host = Py_NewRef(fills[1]);
    self->fill_path = Py_NewRef(fills[2]);
    self->fill_query = Py_NewRef(fills[3]);
    self->fill_agent = Py_NewRef(fills[4]);
    self->fill_referrer = Py_NewRef(fills[5]);
    self->fill_client = Py_NewRef(fills[6]);
    self->submit = Py_NewRef(submit);
    self->slow = Py_NewRef(slow);
    self->route_type = Py_NewRef(route_type);
    self->proxies = proxies;
    self->second = LLONG_MIN;
    return 0;
}

#define LOGCORE_FIELDS(X)                                                                   \
    X(methods) X(hosts) X(paths) X(routes) X(queries) X(agents) X(referrers) X(clients)      \
    X(fill_method) X(fill_host) X(fill_path) X(fill_query) X(fill_agent) X(fill_referrer)    \
    X(fill_client) X(submit) X(slow) X(route_type)

static int
LogCore_traverse(LogCore *self, visitproc visit, void *arg)
{
#define VISIT(f) Py_VISIT(self->f);
    LOGCORE_FIELDS(VISIT)
#undef VISIT
    return 0;
}

static int
LogCore_clear(LogCore *self)
{
#define CLEAR(f) Py_CLEAR(self->f);
    LOGCORE_FIELDS(CLEAR)
#undef CLEAR
    return 0;
}

static void
LogCore_dealloc(LogCore *self)
{
    PyObject_GC_UnTrack(self);
    LogCore_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Reads the request headers the log needs into ``out``: 1 when they are plain (lower case
   names, none of ours repeated, all bytes), 0 when the Python path must read them. */
static int
read_headers(PyObject *scope, PyObject **out)
{
    if (!PyDict_CheckExact(scope)) {
        return 0;
    }
    PyObject *headers = PyDict_GetItemWithError(scope, s_headers);
    if (headers == NULL || !PyList_CheckExact(headers)) {
        PyErr_Clear();
        return 0;
    }
    Py_ssize_t n = PyList_GET_SIZE(headers);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(headers, i);
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2) {
            return 0;
        }
        PyObject *name = PyTuple_GET_ITEM(item, 0);
        PyObject *value = PyTuple_GET_ITEM(item, 1);
        if (!PyBytes_CheckExact(name) || !PyBytes_CheckExact(value)) {
            return 0;
        }
        const char *p = PyBytes_AS_STRING(name);
        Py_ssize_t len = PyBytes_GET_SIZE(name);
        for (int k = 0; k < H_COUNT; k++) {
            if (len != header_names[k].len || !bg_same_name(p, header_names[k].name, len)) {
                continue;
            }
            /* another spelling or a repeat: Python normalises and joins */
            if (out[k] != NULL || memcmp(p, header_names[k].name, (size_t)len) != 0) {
                return 0;
            }
            out[k] = value; /* borrowed until the caller takes them */
            break;
        }
    }
    return 1;
}

/* observe(scope, send): the send that notes what the log needs, with the request's clocks
   and headers read now, before the app runs (as the Python path reads them). */
static PyObject *
LogCore_observe(LogCore *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "observe(scope, send)");
        return NULL;
    }
    if (self->submit == NULL) {
        PyErr_SetString(PyExc_TypeError, "LogCore is not set up");
        return NULL;
    }
    double started = bg_perf_counter();
    if (started == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    double now = bg_wall_clock();
    if (now == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *found[H_COUNT] = {NULL};
    int plain = read_headers(args[0], found);
    LogSend *obs = PyObject_GC_New(LogSend, &LogSendType);
    if (obs == NULL) {
        return NULL;
    }
    obs->vectorcall = NULL; /* set below, once every field is */
    obs->core = (LogCore *)Py_NewRef(self);
    obs->send = Py_NewRef(args[1]);
    for (int k = 0; k < H_COUNT; k++) {
        obs->header[k] = plain ? Py_XNewRef(found[k]) : NULL;
    }
    obs->odd_status = NULL;
    obs->now = now;
    obs->started = started;
    obs->ended = started;
    obs->status = 0;
    obs->bytes_sent = 0;
    obs->plain = plain;
    obs->finished = 0;
    obs->vectorcall = (vectorcallfunc)LogSend_vectorcall;
    PyObject_GC_Track(obs);
    return (PyObject *)obs;
}

static PyMethodDef LogCore_methods[] = {
    {"observe", (PyCFunction)(void (*)(void))LogCore_observe, METH_FASTCALL,
     "observe(scope, send) -> the send that notes status and bytes for the log line."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LogCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "beaconguard._speedups.LogCore",
    .tp_doc = "The access log's column caches, replayed per request.",
    .tp_basicsize = sizeof(LogCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)LogCore_init,
    .tp_traverse = (traverseproc)LogCore_traverse,
    .tp_clear = (inquiry)LogCore_clear,
    .tp_dealloc = (destructor)LogCore_dealloc,
    .tp_methods = LogCore_methods,
};

/* ------------------------------------------------------------------------------------ */

/* Whether ``value`` is ``text`` (a message type), as the Python path's == decides. */
static int
is_type(PyObject *value, PyObject *text)
{
    if (value == text) {
        return 1;
    }
    if (!PyUnicode_Check(value)) {
        return 0;
    }
    return PyUnicode_Compare(value, text) == 0;
}

static PyObject *
LogSend_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    LogSend *self = (LogSend *)callable;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "send(message)");
        return NULL;
    }
    PyObject *message = args[0];
    PyObject *type = PyObject_GetItem(message, s_type);
    if (type == NULL) {
        return NULL;
    }
    int start = is_type(type, s_start);
    int body = !start && is_type(type, s_body_type);
    Py_DECREF(type);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (start) {
        PyObject *status = PyObject_GetItem(message, s_status);
        if (status == NULL) {
            return NULL;
        }
        int overflow = 0;
        long value = PyLong_CheckExact(status) ? PyLong_AsLongAndOverflow(status, &overflow) : 0;
        if (!PyLong_CheckExact(status) || overflow) {
            Py_XSETREF(self->odd_status, status); /* the Python path logs what it is */
        }
        else {
            Py_DECREF(status);
            Py_CLEAR(self->odd_status);
            self->status = value;
        }
    }
    else if (body) {
        /* len(message.get("body", b"")), as the Python path counts */
        PyObject *chunk;
        if (PyDict_CheckExact(message)) {
            chunk = Py_XNewRef(PyDict_GetItemWithError(message, s_body));
        }
        else {
            chunk = PyObject_CallMethod(message, "get", "OO", s_body, b_empty);
        }
        if (chunk == NULL && PyErr_Occurred()) {
            return NULL;
        }
        if (chunk != NULL) {
            Py_ssize_t size = PyBytes_CheckExact(chunk) ? PyBytes_GET_SIZE(chunk)
                                                        : PyObject_Size(chunk);
            Py_DECREF(chunk);
            if (size < 0) {
                return NULL;
            }
            self->bytes_sent += size;
        }
    }
    return PyObject_CallOneArg(self->send, message);
}

/* failed(): the app raised; a response never started is logged as a 500. */
static PyObject *
LogSend_failed(LogSend *self, PyObject *unused)
{
    if (self->status == 0 && self->odd_status == NULL) {
        self->status = 500;
    }
    Py_RETURN_NONE;
}

/* The column's JSON from ``cache[key]``, else from ``fill(*args)``: a new reference, or
   NULL with an error set. ``cache`` may be NULL (always ask). */
static PyObject *
column(PyObject *cache, PyObject *key, PyObject *fill, PyObject *const *args, Py_ssize_t n)
{
    if (cache != NULL) {
        PyObject *hit = PyDict_GetItemWithError(cache, key);
        if (hit != NULL && PyBytes_CheckExact(hit)) {
            return Py_NewRef(hit);
        }
        if (hit == NULL && PyErr_Occurred()) {
            return NULL;
        }
    }
    PyObject *value = PyObject_Vectorcall(fill, args, n, NULL);
    if (value != NULL && !PyBytes_CheckExact(value)) {
        Py_DECREF(value);
        PyErr_SetString(PyExc_TypeError, "a log column's fill must return bytes");
        return NULL;
    }
    return value;
}

/* The referrer column: cached by the Referer value, valid for the same Host only. */
static PyObject *
referrer_column(LogCore *core, PyObject *referer, PyObject *host)
{
    PyObject *hit = PyDict_GetItemWithError(core->referrers, referer);
    if (hit == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (hit != NULL && PyTuple_CheckExact(hit) && PyTuple_GET_SIZE(hit) == 2) {
        PyObject *for_host = PyTuple_GET_ITEM(hit, 0);
        PyObject *json = PyTuple_GET_ITEM(hit, 1);
        if (PyBytes_CheckExact(for_host) && PyBytes_CheckExact(json)
            && PyBytes_GET_SIZE(for_host) == PyBytes_GET_SIZE(host)
            && memcmp(PyBytes_AS_STRING(for_host), PyBytes_AS_STRING(host),
                      (size_t)PyBytes_GET_SIZE(host)) == 0) {
            return Py_NewRef(json);
        }
    }
    PyObject *args[2] = {referer, host};
    return column(NULL, NULL, core->fill_referrer, args, 2);
}

/* ``"YYYY-MM-DDTHH:MM:SS"`` of ``now`` (the pipeline's time column, with its quotes), one
   format per second; 0 when ``now`` is out of the range the Python path formats alike. */
static int
stamp(LogCore *core, double now)
{
    if (!(now >= 0.0 && now < 253402300800.0)) {
        return 0;
    }
    long long second = (long long)now;
    if (second != core->second) {
        time_t t = (time_t)second;
        struct tm tm;
        if (gmtime_r(&t, &tm) == NULL) {
            return 0;
        }
        size_t n = strftime(core->stamp + 1, sizeof(core->stamp) - 2, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (n == 0) {
            return 0;
        }
        core->stamp[0] = '"';
        core->stamp[n + 1] = '"';
        core->stamp_len = (Py_ssize_t)n + 2;
        core->second = second;
    }
    return 1;
}

/* ``value`` in decimal at ``out``; the number of characters. */
static size_t
put_decimal(char *out, unsigned long long value)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < n; i++) {
        out[i] = digits[n - 1 - i];
    }
    return n;
}

/* The duration column: round(ms, 2) as JSON (Python's repr, which orjson's shortest form
   equals in this range), into ``out``; its length, or 0 when out of range. */
static size_t
duration(double ms, char *out, size_t size)
{
    if (size < 48) {
        return 0;
    }
    double hundredths = ms * 100.0;
    if (hundredths >= 0.0 && hundredths < 1e8) {
        /* Below 1e8 the product is within 1e-8 of the exact one, so away from a tie its
           nearest integer is what round() finds; and a decimal of at most 15 significant
           digits is its own shortest repr. */
        double whole = floor(hundredths);
        double part = hundredths - whole;
        if (fabs(part - 0.5) > 1e-7) {
            unsigned long long n = (unsigned long long)whole + (part > 0.5);
            size_t len = put_decimal(out, n / 100);
            unsigned int cents = (unsigned int)(n % 100);
            out[len++] = '.';
            out[len++] = (char)('0' + cents / 10);
            if (cents % 10) {
                out[len++] = (char)('0' + cents % 10);
            }
            return len;
        }
    }
    /* A tie, or a long request: Python's own rounding and repr. */
    char *fixed = PyOS_double_to_string(ms, 'f', 2, 0, NULL);
    if (fixed == NULL) {
        PyErr_Clear();
        return 0;
    }
    /* round(x, 2) is the double nearest the correctly rounded two-decimal string */
    double rounded = PyOS_string_to_double(fixed, NULL, NULL);
    PyMem_Free(fixed);
    if (rounded == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (!(rounded >= 0.0 && rounded < 1e15)) {
        return 0;
    }
    char *repr = PyOS_double_to_string(rounded, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (repr == NULL) {
        PyErr_Clear();
        return 0;
    }
    size_t len = strlen(repr);
    if (len >= size) {
        len = 0;
    }
    else {
        memcpy(out, repr, len);
    }
    PyMem_Free(repr);
    return len;
}

/* The pieces of a line, in order. */
enum { P_METHOD, P_HOST, P_PATH, P_QUERY, P_CLIENT, P_AGENT, P_REFERRER, P_COUNT };

static const char lit_time[] = "{\"time\":", lit_method[] = ",\"method\":",
                  lit_host[] = ",\"host\":", lit_status[] = ",\"status\":",
                  lit_bytes[] = ",\"bytes\":", lit_duration[] = ",\"duration_ms\":",
                  lit_path[] = ",\"path\":", lit_query[] = ",\"query\":",
                  lit_client[] = ",\"client\":", lit_referrer[] = ",\"referrer\":",
                  lit_end[] = "}\n", lit_null[] = "null";
#define LIT(s) (sizeof(s) - 1)

/* The replayed line (a new reference), Py_None (borrowed, not to be released) when this
   request needs the Python path, or NULL with an error set. */
static PyObject *
replay(LogSend *self, PyObject *app_scope)
{
    LogCore *core = self->core;
    if (!self->plain || self->odd_status != NULL || !PyDict_CheckExact(app_scope)) {
        return Py_None;
    }
    PyObject *method = PyDict_GetItemWithError(app_scope, s_method);
    PyObject *path = method ? PyDict_GetItemWithError(app_scope, s_path) : NULL;
    if (path == NULL || !PyUnicode_CheckExact(method) || !PyUnicode_CheckExact(path)) {
        return PyErr_Occurred() ? NULL : Py_None;
    }
    PyObject *query = PyDict_GetItemWithError(app_scope, s_query_string);
    if (query == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        query = b_empty;
    }
    PyObject *root = PyDict_GetItemWithError(app_scope, s_root_path);
    if (root == NULL && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *route = PyDict_GetItemWithError(app_scope, s_route);
    if (route == NULL && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *peer_seq = PyDict_GetItemWithError(app_scope, s_client);
    if (peer_seq == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (!PyBytes_CheckExact(query) || (root != NULL && !PyUnicode_CheckExact(root))) {
        return Py_None;
    }
    /* peer = scope.get("client"); peer[0] if peer else None */
    PyObject *peer = Py_None;
    if (peer_seq != NULL && peer_seq != Py_None) {
        if (!PyTuple_CheckExact(peer_seq) && !PyList_CheckExact(peer_seq)) {
            return Py_None;
        }
        if (PySequence_Fast_GET_SIZE(peer_seq) > 0) {
            peer = PySequence_Fast_GET_ITEM(peer_seq, 0);
            if (!PyUnicode_CheckExact(peer)) {
                return Py_None;
            }
        }
    }
    int head = PyUnicode_GET_LENGTH(method) == 4
               && PyUnicode_CompareWithASCIIString(method, "HEAD") == 0;
    double ended = self->ended;
    char numbers[3][48];
    size_t nlen[3];
    nlen[2] = duration((ended - self->started) * 1000.0, numbers[2], sizeof(numbers[2]));
    if (!stamp(core, self->now) || nlen[2] == 0) {
        return Py_None;
    }
    if (self->status < 0) {
        numbers[0][0] = '-';
        nlen[0] = 1 + put_decimal(numbers[0] + 1, 0ULL - (unsigned long long)self->status);
    }
    else {
        nlen[0] = put_decimal(numbers[0], (unsigned long long)self->status);
    }
    nlen[1] = put_decimal(numbers[1], head ? 0 : (unsigned long long)self->bytes_sent);

    PyObject *host = self->header[H_HOST] ? self->header[H_HOST] : b_empty;
    PyObject *agent = self->header[H_AGENT] ? self->header[H_AGENT] : b_empty;
    PyObject *referer = self->header[H_REFERER];
    PyObject *piece[P_COUNT] = {NULL};
    PyObject *line = NULL;
    /* Held: a fill is Python code and may change the scope or the caches. */
    Py_INCREF(method);
    Py_INCREF(path);
    Py_INCREF(query);
    Py_INCREF(peer);
    Py_XINCREF(root);
    Py_XINCREF(route);

    piece[P_METHOD] = column(core->methods, method, core->fill_method, &method, 1);
    if (piece[P_METHOD] == NULL) {
        goto done;
    }
    piece[P_HOST] = column(core->hosts, host, core->fill_host, &host, 1);
    if (piece[P_HOST] == NULL) {
        goto done;
    }
    PyObject *template = NULL;
    if (route != NULL && PyObject_TypeCheck(route, (PyTypeObject *)core->route_type)) {
        template = PyObject_GetAttr(route, s_path_format);
        if (template == NULL) {
            goto done;
        }
        if (!PyUnicode_CheckExact(template)) {
            Py_DECREF(template);
            line = Py_None;
            goto done;
        }
    }
    {
        PyObject *rootv = root != NULL ? root : Py_None;
        PyObject *path_args[3] = {template != NULL ? template : Py_None, rootv, path};
        if (template == NULL) {
            piece[P_PATH] = column(core->paths, path, core->fill_path, path_args, 3);
        }
        else if (root == NULL || PyUnicode_GET_LENGTH(root) == 0) {
            piece[P_PATH] = column(core->routes, template, core->fill_path, path_args, 3);
        }
        else {
            /* under a mount point: rare enough to ask each time */
            piece[P_PATH] = column(NULL, NULL, core->fill_path, path_args, 3);
        }
        Py_XDECREF(template);
        if (piece[P_PATH] == NULL) {
            goto done;
        }
    }
    piece[P_QUERY] = column(core->queries, query, core->fill_query, &query, 1);
    if (piece[P_QUERY] == NULL) {
        goto done;
    }
    {
        PyObject *client_args[4] = {
            peer,
            self->header[H_XFF] ? self->header[H_XFF] : Py_None,
            self->header[H_FORWARDED] ? self->header[H_FORWARDED] : Py_None,
            NULL,
        };
        client_args[3] = PyFloat_FromDouble(self->now);
        if (client_args[3] == NULL) {
            goto done;
        }
        piece[P_CLIENT] = column(core->proxies ? NULL : core->clients, peer, core->fill_client,
                                 client_args, 4);
        Py_DECREF(client_args[3]);
        if (piece[P_CLIENT] == NULL) {
            goto done;
        }
    }
    piece[P_AGENT] = column(core->agents, agent, core->fill_agent, &agent, 1);
    if (piece[P_AGENT] == NULL) {
        goto done;
    }
    if (referer == NULL || PyBytes_GET_SIZE(referer) == 0) {
        piece[P_REFERRER] = NULL; /* written as null */
    }
    else {
        piece[P_REFERRER] = referrer_column(core, referer, host);
        if (piece[P_REFERRER] == NULL) {
            goto done;
        }
    }

    {
        Py_ssize_t total = LIT(lit_time) + core->stamp_len + LIT(lit_method) + LIT(lit_host)
                           + LIT(lit_status) + (Py_ssize_t)nlen[0] + LIT(lit_bytes)
                           + (Py_ssize_t)nlen[1] + LIT(lit_duration) + (Py_ssize_t)nlen[2]
                           + LIT(lit_path) + LIT(lit_query) + LIT(lit_client)
                           + LIT(lit_referrer) + LIT(lit_end);
        for (int i = 0; i < P_COUNT; i++) {
            total += piece[i] != NULL ? PyBytes_GET_SIZE(piece[i]) : (Py_ssize_t)LIT(lit_null);
        }
        line = PyBytes_FromStringAndSize(NULL, total);
        if (line == NULL) {
            goto done;
        }
        char *w = PyBytes_AS_STRING(line);
#define PUT(p, n)                                                                           \
    do {                                                                                    \
        memcpy(w, (p), (size_t)(n));                                                        \
        w += (n);                                                                           \
    } while (0)
#define PUT_LIT(s) PUT(s, LIT(s))
#define PUT_PIECE(i)                                                                        \
    do {                                                                                    \
        if (piece[i] != NULL) {                                                             \
            PUT(PyBytes_AS_STRING(piece[i]), PyBytes_GET_SIZE(piece[i]));                    \
        }                                                                                   \
        else {                                                                              \
            PUT_LIT(lit_null);                                                              \
        }                                                                                   \
    } while (0)
        PUT_LIT(lit_time);
        PUT(core->stamp, core->stamp_len);
        PUT_LIT(lit_method);
        PUT_PIECE(P_METHOD);
        PUT_LIT(lit_host);
        PUT_PIECE(P_HOST);
        PUT_LIT(lit_status);
        PUT(numbers[0], nlen[0]);
        PUT_LIT(lit_bytes);
        PUT(numbers[1], nlen[1]);
        PUT_LIT(lit_duration);
        PUT(numbers[2], nlen[2]);
        PUT_LIT(lit_path);
        PUT_PIECE(P_PATH);
        PUT_LIT(lit_query);
        PUT_PIECE(P_QUERY);
        PUT_LIT(lit_client);
        PUT_PIECE(P_CLIENT); /* the client, then ,"country":... */
        PUT_PIECE(P_AGENT);  /* ,"browser":... through ,"bot_reason":... */
        PUT_LIT(lit_referrer);
        PUT_PIECE(P_REFERRER);
        PUT_LIT(lit_end);
#undef PUT_PIECE
#undef PUT_LIT
#undef PUT
        assert(w == PyBytes_AS_STRING(line) + total);
    }
done:
    for (int i = 0; i < P_COUNT; i++) {
        Py_XDECREF(piece[i]);
    }
    Py_DECREF(method);
    Py_DECREF(path);
    Py_DECREF(query);
    Py_DECREF(peer);
    Py_XDECREF(root);
    Py_XDECREF(route);
    return line;
}

/* finish(scope, app_scope): the request's log line, replayed and handed to the writer, or
   the request handed to the Python path. Once per request; later calls do nothing. */
static PyObject *
LogSend_finish(LogSend *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "finish(scope, app_scope)");
        return NULL;
    }
    if (self->finished) {
        Py_RETURN_NONE;
    }
    self->finished = 1;
    /* Read once, first: a request handed back is timed to the same end. */
    self->ended = bg_perf_counter();
    if (self->ended == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *line = replay(self, args[1]);
    if (line == NULL) {
        return NULL;
    }
    PyObject *result;
    if (line == Py_None) {
        PyObject *slow_args[3] = {args[0], args[1], (PyObject *)self};
        result = PyObject_Vectorcall(self->core->slow, slow_args, 3, NULL);
    }
    else {
        result = PyObject_CallOneArg(self->core->submit, line);
        Py_DECREF(line);
    }
    if (result == NULL) {
        return NULL;
    }
    Py_DECREF(result);
    Py_RETURN_NONE;
}

static PyObject *
LogSend_get_status(LogSend *self, void *closure)
{
    if (self->odd_status != NULL) {
        return Py_NewRef(self->odd_status);
    }
    return PyLong_FromLong(self->status);
}

static PyMethodDef LogSend_methods[] = {
    {"finish", (PyCFunction)(void (*)(void))LogSend_finish, METH_FASTCALL,
     "finish(scope, app_scope): write this request's log line (once)."},
    {"failed", (PyCFunction)LogSend_failed, METH_NOARGS,
     "failed(): the app raised; an unstarted response is logged as a 500."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef LogSend_members[] = {
    {"bytes_sent", T_PYSSIZET, offsetof(LogSend, bytes_sent), READONLY, "body bytes sent"},
    {"now", T_DOUBLE, offsetof(LogSend, now), READONLY, "time.time() at the start"},
    {"started", T_DOUBLE, offsetof(LogSend, started), READONLY,
     "time.perf_counter() at the start"},
    {"ended", T_DOUBLE, offsetof(LogSend, ended), READONLY,
     "time.perf_counter() at the end (read by finish)"},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef LogSend_getset[] = {
    {"status", (getter)LogSend_get_status, NULL, "the response status (0: not started)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static int
LogSend_traverse(LogSend *self, visitproc visit, void *arg)
{
    Py_VISIT(self->core);
    Py_VISIT(self->send);
    Py_VISIT(self->odd_status);
    for (int k = 0; k < H_COUNT; k++) {
        Py_VISIT(self->header[k]);
    }
    return 0;
}

static int
LogSend_clear(LogSend *self)
{
    Py_CLEAR(self->core);
    Py_CLEAR(self->send);
    Py_CLEAR(self->odd_status);
    for (int k = 0; k < H_COUNT; k++) {
        Py_CLEAR(self->header[k]);
    }
    return 0;
}

static void
LogSend_dealloc(LogSend *self)
{
    PyObject_GC_UnTrack(self);
    LogSend_clear(self);
    PyObject_GC_Del(self);
}

static PyTypeObject LogSendType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "beaconguard._speedups.LogSend",
    .tp_doc = "send for one logged request: notes its status and body bytes.",
    .tp_basicsize = sizeof(LogSend),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(LogSend, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = (traverseproc)LogSend_traverse,
    .tp_clear = (inquiry)LogSend_clear,
    .tp_dealloc = (destructor)LogSend_dealloc,
    .tp_methods = LogSend_methods,
    .tp_members = LogSend_members,
    .tp_getset = LogSend_getset,
};

int
bg_add_log_types(PyObject *module)
{
#define INTERN(var, text)                                                                   \
    if ((var = PyUnicode_InternFromString(text)) == NULL) {                                 \
        return -1;                                                                          \
    }
    INTERN(s_type, "type");
    INTERN(s_status, "status");
    INTERN(s_body, "body");
    INTERN(s_headers, "headers");
    INTERN(s_method, "method");
    INTERN(s_path, "path");
    INTERN(s_query_string, "query_string");
    INTERN(s_root_path, "root_path");
    INTERN(s_client, "client");
    INTERN(s_route, "route");
    INTERN(s_path_format, "path_format");
    INTERN(s_start, "http.response.start");
    INTERN(s_body_type, "http.response.body");
#undef INTERN
    if ((b_empty = PyBytes_FromStringAndSize("", 0)) == NULL) {
        return -1;
    }
    if (PyType_Ready(&LogCoreType) < 0 || PyType_Ready(&LogSendType) < 0) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "LogCore", (PyObject *)&LogCoreType);
}
