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
    *s_root_path, *s_client, *s_route, *s_path_format, *s_start, *s_body_type, *s_beacon,
    *s_pending, *s_batch, *s_bots, *s_keys, *b_empty, *empty_tuple, *one;

/* The names of the request headers the log reads (lower case), by slot. */
enum { H_HOST, H_AGENT, H_REFERER, H_XFF, H_FORWARDED, H_SEC_PURPOSE, H_PURPOSE, H_COUNT };
static const struct {
    const char *name;
    Py_ssize_t len;
} header_names[H_COUNT] = {
    {"host", 4},      {"user-agent", 10},   {"referer", 7}, {"x-forwarded-for", 15},
    {"forwarded", 9}, {"sec-purpose", 11}, {"purpose", 7},
};

/* The statistics' pending batch past which the flusher is woken early (aggregator.py). */
#define MAX_PENDING 50000

typedef struct {
    PyObject_HEAD
    /* Column caches, filled by Python (replay.py says what each holds). */
    PyObject *methods, *hosts, *paths, *routes, *queries, *agents, *referrers, *clients;
    /* Python's answer for a fact not in its cache: the column's JSON (bytes). */
    PyObject *fill_method, *fill_host, *fill_path, *fill_query, *fill_agent, *fill_referrer,
        *fill_client;
    PyObject *submit;     /* the log writer's submit(line) */
    PyObject *slow; /* slow(scope, app_scope, observed, consent): the Python path's work */
    PyObject *route_type; /* starlette.routing.Route: only a Route names a page */
    PyObject *own_routes; /* the middleware's own endpoints: their requests take the Python path */
    PyObject *content_type_of; /* content_type_of(headers): an odd response's, the Python way */
    /* Statistics (NULL when off): the Aggregator, whose pending counters this updates as
       its consume() does; its day names; the Server-Timing header of a counted page. */
    PyObject *counter, *day_name_of, *server_timing;
    long long day;        /* the day ``day_name`` names, or LLONG_MIN */
    bg_visitor_key visitor_key; /* the day key last used, its key block compressed */
    PyObject *day_name, *day_number;
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
    PyObject *method;          /* the scope's, for the page-view rule */
    double now, started, ended;
    long status;
    Py_ssize_t bytes_sent;
    int pageview; /* the statistics' server-side rule counted this answer */
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
                             "submit", "slow", "route_type", "content_type_of", "counter",
                             "day_name_of", "server_timing", "own_routes", "proxies", NULL};
    PyObject *methods, *hosts, *paths, *routes, *queries, *agents, *referrers, *clients;
    PyObject *fills[7], *submit, *slow, *route_type, *content_type_of, *counter, *day_name_of,
        *server_timing, *own_routes;
    int proxies;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwds, "$O!O!O!O!O!O!O!O!OOOOOOOOOO!OOOO!O!p", kwlist, &PyDict_Type, &methods,
            &PyDict_Type, &hosts, &PyDict_Type, &paths, &PyDict_Type, &routes, &PyDict_Type,
            &queries, &PyDict_Type, &agents, &PyDict_Type, &referrers, &PyDict_Type, &clients,
            &fills[0], &fills[1], &fills[2], &fills[3], &fills[4], &fills[5], &fills[6], &submit,
            &slow, &PyType_Type, &route_type, &content_type_of, &counter, &day_name_of,
            &PyTuple_Type, &server_timing, &PyDict_Type, &own_routes, &proxies)) {
        return -1;
    }
    if (self->slow != NULL) {
        PyErr_SetString(PyExc_TypeError, "LogCore is already set up");
        return -1;
    }
    for (int i = 0; i < 7; i++) {
        if (!PyCallable_Check(fills[i])) {
            PyErr_SetString(PyExc_TypeError, "LogCore: every fill_* must be callable");
            return -1;
        }
    }
    if ((submit != Py_None && !PyCallable_Check(submit)) || !PyCallable_Check(slow)
        || !PyCallable_Check(content_type_of)
        || (counter != Py_None && !PyCallable_Check(day_name_of))) {
        PyErr_SetString(PyExc_TypeError,
                        "LogCore: submit (or None), slow, content_type_of and, with a counter, "
                        "day_name_of must be callable");
        return -1;
    }
    if (submit == Py_None && counter == Py_None) {
        PyErr_SetString(PyExc_ValueError, "LogCore: neither a log nor a counter to feed");
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
    self->submit = submit == Py_None ? NULL : Py_NewRef(submit);
    self->slow = Py_NewRef(slow);
    self->route_type = Py_NewRef(route_type);
    self->content_type_of = Py_NewRef(content_type_of);
    if (counter != Py_None) {
        self->counter = Py_NewRef(counter);
        self->day_name_of = Py_NewRef(day_name_of);
    }
    self->server_timing = Py_NewRef(server_timing);
    self->own_routes = Py_NewRef(own_routes);
    self->proxies = proxies;
    self->second = LLONG_MIN;
    self->day = LLONG_MIN;
    return 0;
}

#define LOGCORE_FIELDS(X)                                                                   \
    X(methods) X(hosts) X(paths) X(routes) X(queries) X(agents) X(referrers) X(clients)      \
    X(fill_method) X(fill_host) X(fill_path) X(fill_query) X(fill_agent) X(fill_referrer)    \
    X(fill_client) X(submit) X(slow) X(route_type) X(content_type_of) X(counter) X(day_name_of) \
    X(server_timing) X(own_routes) X(day_name) X(day_number)

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
    if (self->slow == NULL) {
        PyErr_SetString(PyExc_TypeError, "LogCore is not set up");
        return NULL;
    }
    if (PyDict_GET_SIZE(self->own_routes) > 0) {
        /* consent and beacon endpoints: answered and counted by their own rules */
        int own = bg_is_own_route(self->own_routes, args[0]);
        if (own != 0) {
            if (own < 0) {
                return NULL;
            }
            Py_RETURN_NONE;
        }
    }
    /* Made first: allocating may run a collection, and a finaliser may change the scope's
       headers, which are then read and held with nothing in between. */
    LogSend *obs = PyObject_GC_New(LogSend, &LogSendType);
    if (obs == NULL) {
        return NULL;
    }
    obs->vectorcall = (vectorcallfunc)LogSend_vectorcall;
    obs->core = (LogCore *)Py_NewRef(self);
    obs->send = Py_NewRef(args[1]);
    obs->odd_status = NULL;
    obs->method = NULL;
    obs->status = 0;
    obs->bytes_sent = 0;
    obs->pageview = 0;
    obs->finished = 0;
    obs->now = obs->started = obs->ended = 0.0;
    PyObject *found[H_COUNT] = {NULL};
    PyObject *method = NULL;
    int plain = read_headers(args[0], found);
    if (plain) {
        method = PyDict_GetItemWithError(args[0], s_method);
    }
    for (int k = 0; k < H_COUNT; k++) {
        obs->header[k] = plain ? Py_XNewRef(found[k]) : NULL;
    }
    obs->method = Py_XNewRef(method);
    PyObject_GC_Track(obs);
    if (method == NULL) {
        Py_DECREF(obs);
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE; /* the Python path reads them (and observes the request) */
    }
    /* The Python path's order: perf_counter, then time */
    obs->started = obs->ended = bg_perf_counter();
    if (obs->started == -1.0 && PyErr_Occurred()) {
        Py_DECREF(obs);
        return NULL;
    }
    obs->now = bg_wall_clock();
    if (obs->now == -1.0 && PyErr_Occurred()) {
        Py_DECREF(obs);
        return NULL;
    }
    return (PyObject *)obs;
}

static PyMethodDef LogCore_methods[] = {
    {"observe", (PyCFunction)(void (*)(void))LogCore_observe, METH_FASTCALL,
     "observe(scope, send) -> the send that notes what the log line and the counters need, "
     "or None when the Python path takes the request (odd headers, an own endpoint)."},
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

/* Python's str.isspace() over the Latin-1 characters a header decodes to. */
static int
is_latin1_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) || c == 0x85
           || c == 0xa0;
}

/* Whether a Content-Type value, decoded as Latin-1, .lstrip().lower() starts with an HTML
   type (the page-view rule's test). */
static int
is_html(const char *v, Py_ssize_t len)
{
    static const char *types[] = {"text/html", "application/xhtml+xml"};
    Py_ssize_t i = 0;
    while (i < len && is_latin1_space((unsigned char)v[i])) {
        i++;
    }
    for (int t = 0; t < 2; t++) {
        Py_ssize_t n = (Py_ssize_t)strlen(types[t]);
        if (len - i >= n && bg_same_name(v + i, types[t], n)) {
            return 1;
        }
    }
    return 0;
}

/* Whether a Sec-Purpose or Purpose value asks for a speculative load. */
static int
is_prefetch(PyObject *value)
{
    if (value == NULL) {
        return 0;
    }
    const char *v = PyBytes_AS_STRING(value);
    size_t n = (size_t)PyBytes_GET_SIZE(value);
    return memmem(v, n, "prefetch", 8) != NULL || memmem(v, n, "prerender", 9) != NULL;
}

/* 1 when the response's Content-Type is HTML, 0 when not, -1 on error: the first header
   named Content-Type in any case, as the Python path reads it. */
static int
html_response(LogSend *self, PyObject *headers)
{
    if (headers == NULL || headers == Py_None) {
        return 0;
    }
    if (PyList_CheckExact(headers) || PyTuple_CheckExact(headers)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(headers);
        PyObject **items = PySequence_Fast_ITEMS(headers);
        int plain = 1;
        for (Py_ssize_t i = 0; i < n && plain; i++) {
            PyObject *item = items[i];
            if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2
                || !PyBytes_CheckExact(PyTuple_GET_ITEM(item, 0))
                || !PyBytes_CheckExact(PyTuple_GET_ITEM(item, 1))) {
                plain = 0;
                break;
            }
            PyObject *name = PyTuple_GET_ITEM(item, 0);
            if (PyBytes_GET_SIZE(name) == 12
                && bg_same_name(PyBytes_AS_STRING(name), "content-type", 12)) {
                PyObject *value = PyTuple_GET_ITEM(item, 1);
                return is_html(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
            }
        }
        if (plain) {
            return 0;
        }
    }
    /* Another shape: the Python path's reading, then the same test. */
    PyObject *ctype = PyObject_CallOneArg(self->core->content_type_of, headers);
    if (ctype == NULL) {
        return -1;
    }
    PyObject *latin1 = PyUnicode_Check(ctype) ? PyUnicode_AsLatin1String(ctype) : NULL;
    Py_DECREF(ctype);
    if (latin1 == NULL) {
        return -1;
    }
    int html = is_html(PyBytes_AS_STRING(latin1), PyBytes_GET_SIZE(latin1));
    Py_DECREF(latin1);
    return html;
}

/* ``cmp`` of a status against ``bound`` as Python compares them; -1 on error. */
static int
status_cmp(LogSend *self, long bound, int op)
{
    if (self->odd_status == NULL) {
        switch (op) {
        case Py_GE:
            return self->status >= bound;
        default:
            return self->status < bound;
        }
    }
    PyObject *b = PyLong_FromLong(bound);
    if (b == NULL) {
        return -1;
    }
    int r = PyObject_RichCompareBool(self->odd_status, b, op);
    Py_DECREF(b);
    return r;
}

/* The statistics' page-view rule for this response start: a 2xx HTML answer to GET that
   is not a speculative load. 1, 0, or -1 on error. */
static int
counts_as_pageview(LogSend *self, PyObject *message)
{
    int get = PyUnicode_CheckExact(self->method)
                  ? PyUnicode_CompareWithASCIIString(self->method, "GET") == 0
                  : -2;
    if (get == -2) {
        PyObject *text = PyUnicode_FromString("GET");
        if (text == NULL) {
            return -1;
        }
        get = PyObject_RichCompareBool(self->method, text, Py_EQ);
        Py_DECREF(text);
    }
    if (get <= 0) {
        return get;
    }
    int ok = status_cmp(self, 200, Py_GE);
    if (ok > 0) {
        ok = status_cmp(self, 300, Py_LT);
    }
    if (ok <= 0) {
        return ok;
    }
    PyObject *headers = PyObject_GetItem(message, s_headers);
    if (headers == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            return -1;
        }
        PyErr_Clear();
    }
    int html = html_response(self, headers);
    Py_XDECREF(headers);
    if (html <= 0) {
        return html;
    }
    return !is_prefetch(self->header[H_SEC_PURPOSE]) && !is_prefetch(self->header[H_PURPOSE]);
}

/* ``message`` with the Server-Timing header that tells the beacon script this page is
   counted (a new reference): {**message, "headers": [*headers, server_timing]}. */
static PyObject *
with_server_timing(LogSend *self, PyObject *message)
{
    PyObject *headers = PyObject_GetItem(message, s_headers);
    if (headers == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            return NULL;
        }
        PyErr_Clear();
    }
    PyObject *out;
    if (headers == NULL || !PyObject_IsTrue(headers)) {
        out = PyList_New(0);
    }
    else {
        out = PySequence_List(headers);
    }
    Py_XDECREF(headers);
    if (out == NULL || PyList_Append(out, self->core->server_timing) < 0) {
        Py_XDECREF(out);
        return NULL;
    }
    PyObject *fresh = PyDict_New();
    if (fresh == NULL || PyDict_Merge(fresh, message, 1) < 0
        || PyDict_SetItem(fresh, s_headers, out) < 0) {
        Py_XDECREF(fresh);
        Py_DECREF(out);
        return NULL;
    }
    Py_DECREF(out);
    return fresh;
}

static PyObject *
LogSend_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    LogSend *self = (LogSend *)callable;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "send(message)");
        return NULL;
    }
    if (self->core == NULL || self->send == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "LogSend was cleared");
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
        if (self->core->counter != NULL) {
            int pageview = counts_as_pageview(self, message);
            if (pageview < 0) {
                return NULL;
            }
            self->pageview = pageview;
            if (pageview) {
                PyObject *marked = with_server_timing(self, message);
                if (marked == NULL) {
                    return NULL;
                }
                PyObject *result = PyObject_CallOneArg(self->send, marked);
                Py_DECREF(marked);
                return result;
            }
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
    if (self->odd_status != NULL) {
        /* ``status == 0`` as Python decides it: False, 0.0 and an IntEnum 0 are 0 too */
        PyObject *zero = PyLong_FromLong(0);
        int is_zero = zero == NULL ? -1 : PyObject_RichCompareBool(self->odd_status, zero, Py_EQ);
        Py_XDECREF(zero);
        if (is_zero < 0) {
            return NULL;
        }
        if (is_zero) {
            Py_CLEAR(self->odd_status);
            self->status = 500;
        }
    }
    else if (self->status == 0) {
        self->status = 500;
    }
    Py_RETURN_NONE;
}

/* Whether ``entry`` has the shape ``column`` promises (the JSON at ``json``). */
static int
entry_ok(PyObject *entry, Py_ssize_t size, Py_ssize_t json)
{
    if (size == 0) {
        return PyBytes_CheckExact(entry);
    }
    return PyTuple_CheckExact(entry) && PyTuple_GET_SIZE(entry) == size
           && PyBytes_CheckExact(PyTuple_GET_ITEM(entry, json));
}

/* The column's entry from ``cache[key]``, else from ``fill(*args)``: a new reference, or
   NULL with an error set. An entry is the JSON (bytes) when ``size`` is 0, else a tuple of
   ``size`` items, the JSON first. ``cache`` may be NULL (always ask). */
static PyObject *
column(PyObject *cache, PyObject *key, PyObject *fill, PyObject *const *args, Py_ssize_t n,
       Py_ssize_t size)
{
    if (cache != NULL) {
        PyObject *hit = PyDict_GetItemWithError(cache, key);
        if (hit == NULL && PyErr_Occurred()) {
            return NULL;
        }
        if (hit != NULL && entry_ok(hit, size, 0)) {
            return Py_NewRef(hit);
        }
        /* not there, or not an entry (someone else's): Python answers */
    }
    return PyObject_Vectorcall(fill, args, n, NULL);
}

/* The referrer column: cached by the Referer value, valid for the same Host only. */
static PyObject *
referrer_column(LogCore *core, PyObject *referer, PyObject *host)
{
    PyObject *hit = PyDict_GetItemWithError(core->referrers, referer);
    if (hit == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (hit != NULL && entry_ok(hit, 3, 1)) {
        PyObject *for_host = PyTuple_GET_ITEM(hit, 0);
        if (PyBytes_CheckExact(for_host) && PyBytes_GET_SIZE(for_host) == PyBytes_GET_SIZE(host)
            && memcmp(PyBytes_AS_STRING(for_host), PyBytes_AS_STRING(host),
                      (size_t)PyBytes_GET_SIZE(host)) == 0) {
            return Py_NewRef(hit);
        }
    }
    PyObject *args[2] = {referer, host};
    return column(NULL, NULL, core->fill_referrer, args, 2, 3);
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

/* The columns of a line, in order. */
enum { P_METHOD, P_HOST, P_PATH, P_QUERY, P_CLIENT, P_AGENT, P_REFERRER, P_COUNT };
/* Each column's entry: its size (0: the JSON itself) and where its JSON is. */
static const Py_ssize_t entry_size[P_COUNT] = {0, 0, 2, 2, 3, 6, 3};
static const Py_ssize_t entry_json[P_COUNT] = {0, 0, 0, 0, 0, 0, 1};

static const char lit_time[] = "{\"time\":", lit_method[] = ",\"method\":",
                  lit_host[] = ",\"host\":", lit_status[] = ",\"status\":",
                  lit_bytes[] = ",\"bytes\":", lit_duration[] = ",\"duration_ms\":",
                  lit_path[] = ",\"path\":", lit_query[] = ",\"query\":",
                  lit_client[] = ",\"client\":", lit_referrer[] = ",\"referrer\":",
                  lit_end[] = "}\n", lit_null[] = "null";
#define LIT(s) (sizeof(s) - 1)

/* What one request's line and counters are made of. */
typedef struct {
    PyObject *entry[P_COUNT]; /* owned; the referrer's NULL when it is null */
    char numbers[3][48];      /* status, bytes, duration_ms */
    size_t nlen[3];
    /* The time column, copied: a fill may serve another request, in another second. */
    char stamp[48];
    Py_ssize_t stamp_len;
    /* The counter update, made before anything is changed (see count()). */
    PyObject *bot_key;   /* (day, reason) for a crawler's visit */
    PyObject *signature; /* the pending batch's key for a person's visit */
    PyObject *hashed;    /* the visitor's keyed hash */
} Facts;

static void
facts_clear(Facts *f)
{
    for (int i = 0; i < P_COUNT; i++) {
        Py_CLEAR(f->entry[i]);
    }
    Py_CLEAR(f->bot_key);
    Py_CLEAR(f->signature);
    Py_CLEAR(f->hashed);
}

static PyObject *
json_of(Facts *f, int i)
{
    PyObject *e = f->entry[i];
    return entry_size[i] == 0 ? e : PyTuple_GET_ITEM(e, entry_json[i]);
}

/* Fills ``f`` from the app's scope and the caches: 1, 0 when this request needs the
   Python path, -1 with an error set. */
static int
gather(LogSend *self, PyObject *app_scope, Facts *f)
{
    LogCore *core = self->core;
    if (self->odd_status != NULL || !PyDict_CheckExact(app_scope)) {
        return 0;
    }
    PyObject *method = PyDict_GetItemWithError(app_scope, s_method);
    PyObject *path = method ? PyDict_GetItemWithError(app_scope, s_path) : NULL;
    if (path == NULL || !PyUnicode_CheckExact(method) || !PyUnicode_CheckExact(path)) {
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *query = PyDict_GetItemWithError(app_scope, s_query_string);
    if (query == NULL) {
        if (PyErr_Occurred()) {
            return -1;
        }
        query = b_empty;
    }
    PyObject *root = PyDict_GetItemWithError(app_scope, s_root_path);
    if (root == NULL && PyErr_Occurred()) {
        return -1;
    }
    PyObject *route = PyDict_GetItemWithError(app_scope, s_route);
    if (route == NULL && PyErr_Occurred()) {
        return -1;
    }
    PyObject *peer_seq = PyDict_GetItemWithError(app_scope, s_client);
    if (peer_seq == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (!PyBytes_CheckExact(query) || (root != NULL && !PyUnicode_CheckExact(root))) {
        return 0;
    }
    if (core->counter != NULL) {
        /* a beacon's visit is counted by its own rules, whatever it answered: the Python
           path */
        PyObject *beacon = PyDict_GetItemWithError(app_scope, s_beacon);
        if (beacon != NULL && beacon != Py_None) {
            return 0;
        }
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    /* peer = scope.get("client"); peer[0] if peer else None */
    PyObject *peer = Py_None;
    if (peer_seq != NULL && peer_seq != Py_None) {
        if (!PyTuple_CheckExact(peer_seq) && !PyList_CheckExact(peer_seq)) {
            return 0;
        }
        if (PySequence_Fast_GET_SIZE(peer_seq) > 0) {
            peer = PySequence_Fast_GET_ITEM(peer_seq, 0);
            if (!PyUnicode_CheckExact(peer)) {
                return 0;
            }
        }
    }
    int head = PyUnicode_GET_LENGTH(method) == 4
               && PyUnicode_CompareWithASCIIString(method, "HEAD") == 0;
    f->nlen[2] = duration((self->ended - self->started) * 1000.0, f->numbers[2],
                          sizeof(f->numbers[2]));
    if (!stamp(core, self->now) || f->nlen[2] == 0) {
        return 0;
    }
    memcpy(f->stamp, core->stamp, (size_t)core->stamp_len);
    f->stamp_len = core->stamp_len;
    if (self->status < 0) {
        f->numbers[0][0] = '-';
        f->nlen[0] = 1 + put_decimal(f->numbers[0] + 1, 0ULL - (unsigned long long)self->status);
    }
    else {
        f->nlen[0] = put_decimal(f->numbers[0], (unsigned long long)self->status);
    }
    f->nlen[1] = put_decimal(f->numbers[1], head ? 0 : (unsigned long long)self->bytes_sent);

    PyObject *host = self->header[H_HOST] ? self->header[H_HOST] : b_empty;
    PyObject *agent = self->header[H_AGENT] ? self->header[H_AGENT] : b_empty;
    PyObject *referer = self->header[H_REFERER];
    int rc = -1;
    /* Held: a fill is Python code and may change the scope or the caches. */
    Py_INCREF(method);
    Py_INCREF(path);
    Py_INCREF(query);
    Py_INCREF(peer);
    Py_XINCREF(root);
    Py_XINCREF(route);
    PyObject *template = NULL;

    f->entry[P_METHOD] = column(core->methods, method, core->fill_method, &method, 1, 0);
    if (f->entry[P_METHOD] == NULL) {
        goto done;
    }
    f->entry[P_HOST] = column(core->hosts, host, core->fill_host, &host, 1, 0);
    if (f->entry[P_HOST] == NULL) {
        goto done;
    }
    if (route != NULL && PyObject_TypeCheck(route, (PyTypeObject *)core->route_type)) {
        template = PyObject_GetAttr(route, s_path_format);
        if (template == NULL) {
            goto done;
        }
        if (!PyUnicode_CheckExact(template)) {
            rc = 0;
            goto done;
        }
    }
    {
        PyObject *path_args[3] = {template != NULL ? template : Py_None,
                                  root != NULL ? root : Py_None, path};
        PyObject *cache = core->paths, *key = path;
        if (template != NULL) {
            /* under a mount point: rare enough to ask each time */
            int mounted = root != NULL && PyUnicode_GET_LENGTH(root) > 0;
            cache = mounted ? NULL : core->routes;
            key = template;
        }
        f->entry[P_PATH] = column(cache, key, core->fill_path, path_args, 3, 2);
        if (f->entry[P_PATH] == NULL) {
            goto done;
        }
    }
    f->entry[P_QUERY] = column(core->queries, query, core->fill_query, &query, 1, 2);
    if (f->entry[P_QUERY] == NULL) {
        goto done;
    }
    {
        PyObject *hit = core->proxies ? NULL : PyDict_GetItemWithError(core->clients, peer);
        if (hit != NULL && entry_ok(hit, 3, 0)) {
            f->entry[P_CLIENT] = Py_NewRef(hit);
        }
        else if (hit == NULL && PyErr_Occurred()) {
            goto done;
        }
        else {
            /* the time only on a miss: a float per request is an allocation per request */
            PyObject *client_args[4] = {
                peer,
                self->header[H_XFF] ? self->header[H_XFF] : Py_None,
                self->header[H_FORWARDED] ? self->header[H_FORWARDED] : Py_None,
                PyFloat_FromDouble(self->now),
            };
            if (client_args[3] == NULL) {
                goto done;
            }
            f->entry[P_CLIENT] = column(NULL, NULL, core->fill_client, client_args, 4, 3);
            Py_DECREF(client_args[3]);
            if (f->entry[P_CLIENT] == NULL) {
                goto done;
            }
        }
    }
    f->entry[P_AGENT] = column(core->agents, agent, core->fill_agent, &agent, 1, 6);
    if (f->entry[P_AGENT] == NULL) {
        goto done;
    }
    if (referer != NULL && PyBytes_GET_SIZE(referer) > 0) {
        f->entry[P_REFERRER] = referrer_column(core, referer, host);
        if (f->entry[P_REFERRER] == NULL) {
            goto done;
        }
    }
    for (int i = 0; i < P_COUNT; i++) {
        if (f->entry[i] != NULL && !entry_ok(f->entry[i], entry_size[i], entry_json[i])) {
            PyErr_SetString(PyExc_TypeError, "a log column's entry has the wrong shape");
            goto done;
        }
    }
    rc = 1;
done:
    Py_XDECREF(template);
    Py_DECREF(method);
    Py_DECREF(path);
    Py_DECREF(query);
    Py_DECREF(peer);
    Py_XDECREF(root);
    Py_XDECREF(route);
    return rc;
}

/* The line of ``f`` (a new reference), or NULL with an error set. */
static PyObject *
build_line(LogCore *core, Facts *f)
{
    Py_ssize_t total = LIT(lit_time) + f->stamp_len + LIT(lit_method) + LIT(lit_host)
                       + LIT(lit_status) + (Py_ssize_t)f->nlen[0] + LIT(lit_bytes)
                       + (Py_ssize_t)f->nlen[1] + LIT(lit_duration) + (Py_ssize_t)f->nlen[2]
                       + LIT(lit_path) + LIT(lit_query) + LIT(lit_client) + LIT(lit_referrer)
                       + LIT(lit_end);
    for (int i = 0; i < P_COUNT; i++) {
        total += f->entry[i] != NULL ? PyBytes_GET_SIZE(json_of(f, i)) : (Py_ssize_t)LIT(lit_null);
    }
    PyObject *line = PyBytes_FromStringAndSize(NULL, total);
    if (line == NULL) {
        return NULL;
    }
    char *w = PyBytes_AS_STRING(line);
#define PUT(p, n)                                                                           \
    do {                                                                                    \
        memcpy(w, (p), (size_t)(n));                                                        \
        w += (n);                                                                           \
    } while (0)
#define PUT_LIT(s) PUT(s, LIT(s))
#define PUT_COLUMN(i)                                                                       \
    do {                                                                                    \
        if (f->entry[i] != NULL) {                                                          \
            PyObject *json_ = json_of(f, i);                                                \
            PUT(PyBytes_AS_STRING(json_), PyBytes_GET_SIZE(json_));                         \
        }                                                                                   \
        else {                                                                              \
            PUT_LIT(lit_null);                                                              \
        }                                                                                   \
    } while (0)
    PUT_LIT(lit_time);
    PUT(f->stamp, f->stamp_len);
    PUT_LIT(lit_method);
    PUT_COLUMN(P_METHOD);
    PUT_LIT(lit_host);
    PUT_COLUMN(P_HOST);
    PUT_LIT(lit_status);
    PUT(f->numbers[0], f->nlen[0]);
    PUT_LIT(lit_bytes);
    PUT(f->numbers[1], f->nlen[1]);
    PUT_LIT(lit_duration);
    PUT(f->numbers[2], f->nlen[2]);
    PUT_LIT(lit_path);
    PUT_COLUMN(P_PATH);
    PUT_LIT(lit_query);
    PUT_COLUMN(P_QUERY);
    PUT_LIT(lit_client);
    PUT_COLUMN(P_CLIENT); /* the client, then ,"country":... */
    PUT_COLUMN(P_AGENT);  /* ,"browser":... through ,"bot_reason":... */
    PUT_LIT(lit_referrer);
    PUT_COLUMN(P_REFERRER);
    PUT_LIT(lit_end);
#undef PUT_COLUMN
#undef PUT_LIT
#undef PUT
    assert(w == PyBytes_AS_STRING(line) + total);
    return line;
}

/* Appends ``value``, read as Latin-1, in UTF-8 (what the Python path's decode then
   encode gives). */
static char *
put_utf8_of_latin1(char *w, PyObject *value)
{
    const unsigned char *v = (const unsigned char *)PyBytes_AS_STRING(value);
    for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(value); i++) {
        if (v[i] < 0x80) {
            *w++ = (char)v[i];
        }
        else {
            *w++ = (char)(0xc0 | (v[i] >> 6));
            *w++ = (char)(0x80 | (v[i] & 0x3f));
        }
    }
    return w;
}

/* Day number of a Unix time as Python's ``int(ts // 86400)`` finds it (a float floor
   division, which floor(ts / 86400) is not at every boundary). */
static long long
day_number(double ts)
{
    double mod = fmod(ts, 86400.0);
    double div = (ts - mod) / 86400.0;
    double floordiv = floor(div);
    if (div - floordiv > 0.5) {
        floordiv += 1.0;
    }
    return (long long)floordiv;
}

/* Prepares the counter update of a counted page view, as Aggregator.consume makes it: 1,
   0 when the Python path must count it (the day's visitor key is not in memory, an odd
   client), -1 with an error set. Nothing is changed yet. */
static int
plan_count(LogSend *self, Facts *f)
{
    LogCore *core = self->core;
    long long number = day_number(self->now);
    if (number != core->day) {
        PyObject *n = PyLong_FromLongLong(number);
        if (n == NULL) {
            return -1;
        }
        PyObject *name = PyObject_CallOneArg(core->day_name_of, n);
        if (name == NULL || !PyUnicode_CheckExact(name)) {
            Py_DECREF(n);
            if (name != NULL) {
                Py_DECREF(name);
                PyErr_SetString(PyExc_TypeError, "day_name_of must return a str");
            }
            return -1;
        }
        Py_XSETREF(core->day_number, n);
        Py_XSETREF(core->day_name, name);
        core->day = number;
    }
    PyObject *day = core->day_name;
    PyObject *agent = f->entry[P_AGENT];
    if (PyTuple_GET_ITEM(agent, 4) == Py_True) {
        /* A crawler: counted by reason, never as a visitor. */
        PyObject *reason = PyTuple_GET_ITEM(agent, 5);
        int truthy = PyObject_IsTrue(reason);
        if (truthy < 0) {
            return -1;
        }
        f->bot_key = truthy ? PyTuple_Pack(2, day, reason) : Py_BuildValue("(Os)", day, "crawler");
        return f->bot_key == NULL ? -1 : 1;
    }
    PyObject *keys = PyObject_GetAttr(core->counter, s_keys);
    if (keys == NULL) {
        return -1;
    }
    PyObject *key = PyDict_CheckExact(keys) ? PyDict_GetItemWithError(keys, core->day_number)
                                            : NULL;
    Py_XINCREF(key);
    Py_DECREF(keys);
    if (key == NULL || !PyBytes_CheckExact(key)) {
        Py_XDECREF(key);
        return PyErr_Occurred() ? -1 : 0; /* the Python path holds it for the flusher */
    }
    /* f"{client}\0{user_agent}\0{host}", UTF-8 */
    PyObject *client = PyTuple_GET_ITEM(f->entry[P_CLIENT], 2);
    const char *client_text = "None";
    Py_ssize_t client_len = 4;
    if (client != Py_None) {
        client_text = PyUnicode_CheckExact(client) ? PyUnicode_AsUTF8AndSize(client, &client_len)
                                                   : NULL;
        if (client_text == NULL) {
            PyErr_Clear();
            Py_DECREF(key);
            return 0;
        }
    }
    PyObject *ua = self->header[H_AGENT] ? self->header[H_AGENT] : b_empty;
    PyObject *host = self->header[H_HOST] ? self->header[H_HOST] : b_empty;
    size_t need = (size_t)client_len + 2 + 2 * (size_t)(PyBytes_GET_SIZE(ua) + PyBytes_GET_SIZE(host));
    char small[1024];
    char *buf = need <= sizeof(small) ? small : PyMem_Malloc(need);
    if (buf == NULL) {
        Py_DECREF(key);
        PyErr_NoMemory();
        return -1;
    }
    char *w = buf;
    memcpy(w, client_text, (size_t)client_len);
    w += client_len;
    *w++ = '\0';
    w = put_utf8_of_latin1(w, ua);
    *w++ = '\0';
    w = put_utf8_of_latin1(w, host);
    const unsigned char *kb = (const unsigned char *)PyBytes_AS_STRING(key);
    size_t klen = (size_t)PyBytes_GET_SIZE(key);
    bg_visitor_key *vk = &core->visitor_key;
    unsigned long long h;
    if (klen >= 1 && klen <= 64
        && ((vk->keylen == klen && memcmp(vk->key, kb, klen) == 0)
            || bg_visitor_key_set(vk, kb, klen) == 0)) {
        h = bg_visitor_hash_with(vk, (const unsigned char *)buf, (size_t)(w - buf));
    }
    else {
        /* an empty or over-long key: whatever hashlib makes of it, the Python path does */
        if (buf != small) {
            PyMem_Free(buf);
        }
        Py_DECREF(key);
        return 0;
    }
    if (buf != small) {
        PyMem_Free(buf);
    }
    Py_DECREF(key);
    f->hashed = PyLong_FromUnsignedLongLong(h);
    if (f->hashed == NULL) {
        return -1;
    }
    /* (day, page, event, referrer, query, country, browser, os, device, props) */
    PyObject *referrer = f->entry[P_REFERRER] ? PyTuple_GET_ITEM(f->entry[P_REFERRER], 2)
                                              : Py_None;
    f->signature = PyTuple_Pack(
        10, day, PyTuple_GET_ITEM(f->entry[P_PATH], 1), Py_None, referrer,
        PyTuple_GET_ITEM(f->entry[P_QUERY], 1), PyTuple_GET_ITEM(f->entry[P_CLIENT], 1),
        PyTuple_GET_ITEM(agent, 1), PyTuple_GET_ITEM(agent, 2), PyTuple_GET_ITEM(agent, 3),
        empty_tuple);
    return f->signature == NULL ? -1 : 1;
}

/* dict[key] += 1, for an int count; -1 with an error set. */
static int
bump(PyObject *dict, PyObject *key)
{
    PyObject *cur = PyDict_GetItemWithError(dict, key);
    if (cur == NULL && PyErr_Occurred()) {
        return -1;
    }
    PyObject *next = cur == NULL ? PyLong_FromLong(1) : PyNumber_Add(cur, one);
    if (next == NULL) {
        return -1;
    }
    int rc = PyDict_SetItem(dict, key, next);
    Py_DECREF(next);
    return rc;
}

/* The counter update ``plan_count`` prepared. The aggregator's consume() takes its lock;
   this relies on the GIL instead: from reading the pending batch to the end of the update
   nothing here allocates a tracked object (which could run a collection, a finaliser and
   so another thread), so the flusher's swap of the batch comes wholly before or after. */
static int
count(LogCore *core, Facts *f)
{
    if (f->bot_key != NULL) {
        PyObject *batch = PyObject_GetAttr(core->counter, s_batch);
        if (batch == NULL) {
            return -1;
        }
        PyObject *bots = PyObject_GetAttr(batch, s_bots);
        Py_DECREF(batch);
        if (bots == NULL) {
            return -1;
        }
        int rc = PyDict_CheckExact(bots) ? bump(bots, f->bot_key) : -1;
        if (rc < 0 && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "the aggregator's bots must be a dict");
        }
        Py_DECREF(bots);
        return rc;
    }
    PyObject *fresh = NULL, *pending = NULL, *entry = NULL;
    for (;;) {
        pending = PyObject_GetAttr(core->counter, s_pending);
        if (pending == NULL) {
            goto fail;
        }
        if (!PyDict_CheckExact(pending)) {
            PyErr_SetString(PyExc_TypeError, "the aggregator's pending batch must be a dict");
            goto fail;
        }
        entry = PyDict_GetItemWithError(pending, f->signature);
        if (entry == NULL && PyErr_Occurred()) {
            goto fail;
        }
        if (entry != NULL) {
            break;
        }
        if (fresh != NULL) {
            if (PyDict_SetItem(pending, f->signature, fresh) < 0) {
                goto fail;
            }
            entry = fresh;
            break;
        }
        /* [page views, events, visitor hashes]. Allocating may run a collection, and so
           another thread: the batch is read again after it. */
        Py_CLEAR(pending);
        PyObject *visitors = PySet_New(NULL);
        fresh = visitors == NULL ? NULL : Py_BuildValue("[iiN]", 0, 0, visitors);
        if (fresh == NULL) {
            goto fail;
        }
    }
    if (entry == NULL || !PyList_CheckExact(entry) || PyList_GET_SIZE(entry) != 3
        || !PyAnySet_CheckExact(PyList_GET_ITEM(entry, 2))) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "a pending entry must be [views, events, set]");
        }
        goto fail;
    }
    PyObject *views = PyNumber_Add(PyList_GET_ITEM(entry, 0), one);
    if (views == NULL) {
        goto fail;
    }
    PyList_SetItem(entry, 0, views);
    if (PySet_Add(PyList_GET_ITEM(entry, 2), f->hashed) < 0) {
        goto fail;
    }
    int crowded = PyDict_GET_SIZE(pending) > MAX_PENDING;
    Py_DECREF(pending);
    Py_XDECREF(fresh);
    if (crowded) {
        PyObject *wake = PyObject_GetAttrString(core->counter, "_wake");
        PyObject *r = wake == NULL ? NULL : PyObject_CallMethod(wake, "set", NULL);
        Py_XDECREF(wake);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    return 0;
fail:
    Py_XDECREF(pending);
    Py_XDECREF(fresh);
    return -1;
}

/* finish(scope, app_scope, consent): the request's log line replayed and handed to the writer, and
   its page view counted; or the request handed to the Python path. Once per request;
   later calls do nothing. */
static PyObject *
LogSend_finish(LogSend *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "finish(scope, app_scope, consent)");
        return NULL;
    }
    if (self->finished) {
        Py_RETURN_NONE;
    }
    if (self->core == NULL || self->core->slow == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "LogSend was cleared");
        return NULL;
    }
    self->finished = 1;
    LogCore *core = self->core;
    /* Read once, first: a request handed back is timed to the same end. */
    self->ended = bg_perf_counter();
    if (self->ended == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    Facts f;
    memset(&f, 0, sizeof(f));
    int counted = core->counter != NULL && self->pageview;
    int rc = gather(self, args[1], &f);
    if (rc > 0 && counted) {
        rc = plan_count(self, &f);
    }
    if (rc == 0) {
        facts_clear(&f);
        PyObject *slow_args[4] = {args[0], args[1], (PyObject *)self, args[2]};
        PyObject *result = PyObject_Vectorcall(core->slow, slow_args, 4, NULL);
        if (result == NULL) {
            return NULL;
        }
        Py_DECREF(result);
        Py_RETURN_NONE;
    }
    if (rc < 0) {
        goto fail;
    }
    if (core->submit != NULL) {
        PyObject *line = build_line(core, &f);
        if (line == NULL) {
            goto fail;
        }
        PyObject *result = PyObject_CallOneArg(core->submit, line);
        Py_DECREF(line);
        if (result == NULL) {
            goto fail;
        }
        Py_DECREF(result);
    }
    if (counted && count(core, &f) < 0) {
        goto fail;
    }
    facts_clear(&f);
    Py_RETURN_NONE;
fail:
    facts_clear(&f);
    return NULL;
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
     "finish(scope, app_scope, consent): write this request's log line and count it, or "
     "hand it to the Python path with the gate's state (once)."},
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

static PyObject *
LogSend_get_pageview(LogSend *self, void *closure)
{
    if (self->core == NULL || self->core->counter == NULL) {
        Py_RETURN_NONE; /* no statistics: the rule was not applied */
    }
    return PyBool_FromLong(self->pageview);
}

/* The request headers held since observe(), decoded as the Python path decodes them. */
static PyObject *
LogSend_get_found(LogSend *self, void *closure)
{
    PyObject *out = PyDict_New();
    if (out == NULL) {
        return NULL;
    }
    for (int k = 0; k < H_COUNT; k++) {
        if (self->header[k] == NULL) {
            continue;
        }
        PyObject *value = PyUnicode_DecodeLatin1(PyBytes_AS_STRING(self->header[k]),
                                                 PyBytes_GET_SIZE(self->header[k]), NULL);
        if (value == NULL || PyDict_SetItemString(out, header_names[k].name, value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(value);
    }
    return out;
}

static PyGetSetDef LogSend_getset[] = {
    {"found", (getter)LogSend_get_found, NULL,
     "the request headers the log reads, as read before the app ran (name -> str)", NULL},
    {"status", (getter)LogSend_get_status, NULL, "the response status (0: not started)", NULL},
    {"pageview", (getter)LogSend_get_pageview, NULL,
     "whether the statistics' page-view rule counted the answer (None: no statistics)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static int
LogSend_traverse(LogSend *self, visitproc visit, void *arg)
{
    Py_VISIT(self->core);
    Py_VISIT(self->send);
    Py_VISIT(self->odd_status);
    Py_VISIT(self->method);
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
    Py_CLEAR(self->method);
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
    INTERN(s_beacon, "beaconguard.beacon"); /* beacon/endpoints.py's SCOPE_KEY */
    INTERN(s_pending, "_pending");
    INTERN(s_batch, "_batch");
    INTERN(s_bots, "bots");
    INTERN(s_keys, "_keys");
#undef INTERN
    if ((b_empty = PyBytes_FromStringAndSize("", 0)) == NULL
        || (empty_tuple = PyTuple_New(0)) == NULL || (one = PyLong_FromLong(1)) == NULL) {
        return -1;
    }
    if (PyType_Ready(&LogCoreType) < 0 || PyType_Ready(&LogSendType) < 0) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "LogCore", (PyObject *)&LogCoreType);
}
