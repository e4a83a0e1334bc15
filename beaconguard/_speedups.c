/*
 * beaconguard._speedups: the consent gate's per-request hot path, in C.
 *
 * Python decides; this file only replays decisions Python already made. The gate
 * (beaconguard/consent/gate.py) owns every table read here: the per-mask cookie
 * decisions, the response header kinds, the per-mask CSP headers and the cache of
 * resolved Cookie headers. Whatever is not in those tables, or looks unusual (an upper
 * case header name, a repeated Cookie, a deletion, the app's own CSP or Cache-Control),
 * goes back to the Python code, which answers and fills the tables for next time. So the
 * two paths give the same answer by construction, and tests/consent/test_fast.py holds
 * them to it.
 *
 * Why C: a pure-Python gate costs about 40k instructions per request, ten times what the
 * issue allows (3 us); this path does the same work in a few thousand, and makes no
 * coroutine per send.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <time.h>

#include "_speedups.h"

/* A response with more headers than this goes the Python way (the drop set is a bitmap). */
#define MAX_FAST_HEADERS 64

/* Kinds of response header, as gate.py numbers them. */
#define KIND_SET_COOKIE 1
#define KIND_CONTENT_TYPE 2
#define KIND_CSP 3
#define KIND_CACHE_CONTROL 4
#define MAX_KNOWN 8
#define MEMO_SLOTS 64
#define MEMO_NAME 48
#define MAX_KNOWN_NAME 64

static PyObject *str_app, *str_time, *str_type, *str_http, *str_headers, *str_path, *str_root_path, *str_state,
    *str_consent, *str_response_start, *bytes_cookie;

/* ------------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    PyObject *owner;         /* the middleware: its ``app`` is read per request */
    PyObject *routes;        /* dict: own route path -> endpoint (None when there are none) */
    PyObject *cache_plain;   /* dict: Cookie header -> entry, requests without Sec-GPC: 1 */
    PyObject *cache_gpc;     /* the same for requests with Sec-GPC: 1 */
    PyObject *default_state; /* the state of a request without cookies, or None */
    PyObject *gpc_state;     /* the same with Sec-GPC: 1, or None */
    long default_mask, gpc_mask;
    PyObject *keep;          /* tuple, per mask: dict cookie name (bytes) -> bool */
    /* The response header names the gate reads, lower case, with their kinds. */
    struct {
        char name[MAX_KNOWN_NAME];
        Py_ssize_t len;
        long kind;
    } known[MAX_KNOWN];
    int nknown;
    PyObject *policies;      /* tuple, per mask: the (name, value) CSP header; or None */
    PyObject *private_header;
    PyObject *fallback;      /* fallback(message, state, scope) -> message */
    /* Set-Cookie verdicts already read from ``keep``, by (mask, name): a verdict never
       changes for one Settings, and this spares a bytes object and a dict probe per
       cookie. Direct mapped; a name that does not fit is looked up in ``keep``. */
    struct {
        unsigned char len; /* 0: empty slot */
        unsigned char mask;
        unsigned char ok;
        char name[MEMO_NAME];
    } memo[MEMO_SLOTS];
} GateCore;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    GateCore *core;
    PyObject *send;
    PyObject *state;
    PyObject *scope;
    long mask;
} GateSend;

static PyTypeObject GateCoreType;
static PyTypeObject GateSendType;

static PyObject *time_module, *builtin_time, *builtin_perf_counter, *str_perf_counter;

/* A clock of the time module, looked up on each call as the Python path does, so that a
   test clock (freezegun, monkeypatch) moves both paths; read directly while it is the
   builtin one. -1 with an error set on failure. */
static double
read_clock(PyObject *name, PyObject *builtin, clockid_t id)
{
    PyObject *clock = PyObject_GetAttr(time_module, name);
    if (clock == NULL) {
        return -1.0;
    }
    if (clock == builtin) {
        Py_DECREF(clock);
        struct timespec ts;
        clock_gettime(id, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    PyObject *now = PyObject_CallNoArgs(clock);
    Py_DECREF(clock);
    if (now == NULL) {
        return -1.0;
    }
    double value = PyFloat_AsDouble(now);
    Py_DECREF(now);
    return value;
}

double
bg_wall_clock(void)
{
    return read_clock(str_time, builtin_time, CLOCK_REALTIME);
}

double
bg_perf_counter(void)
{
    /* CPython's perf_counter is CLOCK_MONOTONIC on Linux */
    return read_clock(str_perf_counter, builtin_perf_counter, CLOCK_MONOTONIC);
}

static int
is_space(char c)
{
    /* bytes.strip()'s set */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0b' || c == '\x0c';
}

/* Whether ``p`` is ``lower`` (lower case ASCII) in any letter case. */
int
bg_same_name(const char *p, const char *lower, Py_ssize_t len)
{
    for (Py_ssize_t i = 0; i < len; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != lower[i]) {
            return 0;
        }
    }
    return 1;
}

static unsigned int
memo_slot(long mask, const char *name, Py_ssize_t len)
{
    unsigned int h = 2166136261u ^ (unsigned int)mask;
    for (Py_ssize_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    }
    return h % MEMO_SLOTS;
}

/* The remembered verdict for a Set-Cookie name under ``mask`` (1 may pass, 0 may not), or
   -1 when there is none. */
static int
memo_get(GateCore *core, long mask, const char *name, Py_ssize_t len)
{
    if (len < 1 || len > MEMO_NAME) {
        return -1;
    }
    unsigned int i = memo_slot(mask, name, len);
    if (core->memo[i].len != len || core->memo[i].mask != mask
        || memcmp(core->memo[i].name, name, (size_t)len) != 0) {
        return -1;
    }
    return core->memo[i].ok;
}

static void
memo_put(GateCore *core, long mask, const char *name, Py_ssize_t len, int ok)
{
    if (len < 1 || len > MEMO_NAME || mask < 0 || mask > 255) {
        return;
    }
    unsigned int i = memo_slot(mask, name, len);
    memcpy(core->memo[i].name, name, (size_t)len);
    core->memo[i].len = (unsigned char)len;
    core->memo[i].mask = (unsigned char)mask;
    core->memo[i].ok = (unsigned char)ok;
}

/* scope.get("state")["consent"] = state, creating the dict when absent or None. */
static int
put_state(PyObject *scope, PyObject *state)
{
    PyObject *app_state = PyDict_GetItemWithError(scope, str_state);
    if (app_state == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (app_state == NULL || app_state == Py_None) {
        PyObject *fresh = PyDict_New();
        if (fresh == NULL) {
            return -1;
        }
        if (PyDict_SetItem(fresh, str_consent, state) < 0) {
            Py_DECREF(fresh);
            return -1;
        }
        int rc = PyDict_SetItem(scope, str_state, fresh);
        Py_DECREF(fresh);
        return rc;
    }
    return PyObject_SetItem(app_state, str_consent, state);
}

/* 1 when an own route (under root_path) answers this scope, 0 when not, -1 on error. */
int
bg_is_own_route(PyObject *routes, PyObject *scope)
{
    PyObject *path = PyDict_GetItemWithError(scope, str_path);
    if (path == NULL) {
        return PyErr_Occurred() ? -1 : 1; /* no path: let Python say what is wrong */
    }
    if (!PyUnicode_CheckExact(path)) {
        return 1;
    }
    PyObject *root = PyDict_GetItemWithError(scope, str_root_path);
    if (root == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (root != NULL && root != Py_None) {
        if (!PyUnicode_CheckExact(root)) {
            return 1;
        }
        Py_ssize_t rlen = PyUnicode_GET_LENGTH(root);
        Py_ssize_t plen = PyUnicode_GET_LENGTH(path);
        if (rlen > 0 && plen > rlen && PyUnicode_READ_CHAR(path, rlen) == '/') {
            Py_ssize_t m = PyUnicode_Tailmatch(path, root, 0, rlen, -1);
            if (m < 0) {
                return -1;
            }
            if (m) {
                PyObject *below = PyUnicode_Substring(path, rlen, plen);
                if (below == NULL) {
                    return -1;
                }
                int hit = PyDict_Contains(routes, below);
                Py_DECREF(below);
                return hit;
            }
        }
    }
    return PyDict_Contains(routes, path);
}

/* The scope's headers without Cookie, plus ``kept`` as the one Cookie when not empty. */
static PyObject *
strip_cookie(PyObject *headers, PyObject *kept)
{
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    /* Checked again: creating ``out`` may have run arbitrary code (a finaliser). */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); i++) {
        PyObject *item = PyList_GET_ITEM(headers, i);
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2
            || !PyBytes_CheckExact(PyTuple_GET_ITEM(item, 0))) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_RuntimeError, "request headers changed while gated");
            return NULL;
        }
        PyObject *name = PyTuple_GET_ITEM(item, 0);
        /* Every spelling goes, as on the Python path: the scan refused any but "cookie",
           yet a finaliser may have added one since. */
        if (PyBytes_GET_SIZE(name) == 6 && bg_same_name(PyBytes_AS_STRING(name), "cookie", 6)) {
            continue;
        }
        if (PyList_Append(out, item) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    if (PyBytes_GET_SIZE(kept) > 0) {
        PyObject *pair = PyTuple_Pack(2, bytes_cookie, kept);
        if (pair == NULL || PyList_Append(out, pair) < 0) {
            Py_XDECREF(pair);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(pair);
    }
    return out;
}

static PyObject *GateSend_create(GateCore *core, PyObject *send, PyObject *state, long mask,
                                 PyObject *scope);

/* What the gate replays for one request; borrowed references. */
typedef struct {
    PyObject *headers;
    PyObject *state;
    PyObject *kept; /* the Cookie header the app gets, or None to leave the request alone */
    long mask;
} Replay;

/* 1 with ``out`` filled when the tables answer this request, 0 when Python must decide
   (nothing has been changed), -1 on error. */
static int
replay_for(GateCore *self, PyObject *scope, Replay *out)
{
    if (!PyDict_CheckExact(scope)) {
        return 0;
    }
    PyObject *type = PyDict_GetItemWithError(scope, str_type);
    if (type == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (type != str_http) {
        if (!PyUnicode_CheckExact(type) || PyUnicode_Compare(type, str_http) != 0) {
            return PyErr_Occurred() ? -1 : 0;
        }
    }
    PyObject *headers = PyDict_GetItemWithError(scope, str_headers);
    if (headers == NULL || !PyList_CheckExact(headers)) {
        return PyErr_Occurred() ? -1 : 0;
    }

    /* One scan: the Cookie header and Sec-GPC, refusing anything Python must normalise. */
    PyObject *cookie = NULL;
    int gpc = 0, seen_gpc = 0;
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
        /* Only these two names matter here; spelled in another case, Python normalises. */
        if (len == 6 && bg_same_name(p, "cookie", 6)) {
            if (cookie != NULL || memcmp(p, "cookie", 6) != 0) {
                return 0; /* HTTP/2 splits Cookie: Python joins the pieces */
            }
            cookie = value;
        }
        else if (len == 7 && bg_same_name(p, "sec-gpc", 7)) {
            if (seen_gpc || memcmp(p, "sec-gpc", 7) != 0) {
                return 0;
            }
            seen_gpc = 1;
            gpc = PyBytes_GET_SIZE(value) == 1 && PyBytes_AS_STRING(value)[0] == '1';
        }
    }

    out->headers = headers;
    out->kept = Py_None;
    if (cookie == NULL || PyBytes_GET_SIZE(cookie) == 0) {
        out->state = gpc ? self->gpc_state : self->default_state;
        out->mask = gpc ? self->gpc_mask : self->default_mask;
        /* None: the region default needs the visitor's country */
        return out->state != Py_None;
    }
    PyObject *cache = gpc ? self->cache_gpc : self->cache_plain;
    PyObject *entry = PyDict_GetItemWithError(cache, cookie);
    if (entry == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    /* (state, mask, expires, kept or None), as ConsentGate._remember writes it */
    if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 4
        || !PyLong_CheckExact(PyTuple_GET_ITEM(entry, 1))
        || !PyFloat_CheckExact(PyTuple_GET_ITEM(entry, 2))) {
        return 0;
    }
    double expires = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(entry, 2));
    if (expires != Py_HUGE_VAL) {
        /* time.time may be Python code (a test clock): hold what this reads, and go on only
           if the scope's headers and the entry are still the ones read. */
        Py_INCREF(headers);
        Py_INCREF(cookie);
        double now = bg_wall_clock();
        int same = 0;
        if (!(now == -1.0 && PyErr_Occurred())) {
            PyObject *again = PyDict_GetItemWithError(cache, cookie);
            same = again == entry && PyDict_GetItemWithError(scope, str_headers) == headers;
        }
        Py_DECREF(cookie);
        Py_DECREF(headers);
        if (PyErr_Occurred()) {
            return -1;
        }
        if (!same || now >= expires) {
            return 0; /* the decision expired: Python reads the cookie again */
        }
    }
    out->state = PyTuple_GET_ITEM(entry, 0);
    out->kept = PyTuple_GET_ITEM(entry, 3);
    out->mask = PyLong_AsLong(PyTuple_GET_ITEM(entry, 1));
    if (out->kept != Py_None && !PyBytes_CheckExact(out->kept)) {
        return 0;
    }
    if (out->mask < 0 || out->mask >= PyTuple_GET_SIZE(self->keep)) {
        return PyErr_Occurred() ? -1 : 0;
    }
    return 1;
}

/* The scope the app sees (a new reference): ``scope`` itself, or a copy whose Cookie header
   is ``r->kept``; either way with the state at scope["state"]["consent"]. */
static PyObject *
enter_scope(PyObject *scope, Replay *r)
{
    PyObject *target;
    if (r->kept == Py_None) {
        target = Py_NewRef(scope);
    }
    else {
        Py_INCREF(r->headers);
        Py_INCREF(r->kept);
        PyObject *stripped = strip_cookie(r->headers, r->kept);
        Py_DECREF(r->kept);
        Py_DECREF(r->headers);
        if (stripped == NULL) {
            return NULL;
        }
        target = PyDict_Copy(scope);
        if (target == NULL || PyDict_SetItem(target, str_headers, stripped) < 0) {
            Py_XDECREF(target);
            Py_DECREF(stripped);
            return NULL;
        }
        Py_DECREF(stripped);
    }
    if (put_state(target, r->state) < 0) {
        Py_DECREF(target);
        return NULL;
    }
    return target;
}

/* The replayed request: 1 with the scope the app sees and the gated send (new references),
   0 when the request needs the Python path (nothing has been changed), -1 on error.
   ``routes``: a request for an own endpoint needs the Python path too. */
static int
begin(GateCore *self, PyObject *scope, PyObject *send, int routes, PyObject **target,
      PyObject **wrapped)
{
    if (self->keep == NULL) {
        /* made with GateCore.__new__ and never set up: every table is NULL */
        PyErr_SetString(PyExc_TypeError, "GateCore is not set up");
        return -1;
    }
    Replay r;
    int found = replay_for(self, scope, &r);
    if (found <= 0) {
        return found;
    }
    if (routes && self->routes != Py_None && PyDict_GET_SIZE(self->routes) > 0) {
        int own = bg_is_own_route(self->routes, scope);
        if (own != 0) {
            return own < 0 ? -1 : 0;
        }
    }
    /* Decided: from here on the request is the C path's. The entry may be evicted while
       the app runs, so the state is held. */
    PyObject *state = Py_NewRef(r.state);
    *target = enter_scope(scope, &r);
    if (*target == NULL) {
        Py_DECREF(state);
        return -1;
    }
    *wrapped = GateSend_create(self, send, state, r.mask, *target);
    Py_DECREF(state);
    if (*wrapped == NULL) {
        Py_CLEAR(*target);
        return -1;
    }
    return 1;
}

/*
 * run(scope, receive, send): the app's awaitable with the gate applied, or None when this
 * request needs the Python path (then nothing has been changed).
 */
static PyObject *
GateCore_run(GateCore *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "run(scope, receive, send)");
        return NULL;
    }
    PyObject *target, *wrapped;
    int found = begin(self, args[0], args[2], 1, &target, &wrapped);
    if (found <= 0) {
        return found < 0 ? NULL : Py_NewRef(Py_None);
    }
    PyObject *result = NULL;
    PyObject *app = PyObject_GetAttr(self->owner, str_app);
    if (app != NULL) {
        PyObject *call_args[3] = {target, args[1], wrapped};
        result = PyObject_Vectorcall(app, call_args, 3, NULL);
        Py_DECREF(app);
    }
    if (result == Py_None) {
        /* None means "take the Python path", which would call the app a second time */
        Py_CLEAR(result);
        PyErr_SetString(PyExc_TypeError, "the app returned None, not an awaitable");
    }
    Py_DECREF(wrapped);
    Py_DECREF(target);
    return result;
}

/*
 * enter(scope, send): (the scope the app sees, the state, the gated send), or None when
 * this request needs the Python path (then nothing has been changed). For a middleware that
 * also observes the request: it routes, and keeps its own send for its own endpoints.
 */
static PyObject *
GateCore_enter(GateCore *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "enter(scope, send)");
        return NULL;
    }
    PyObject *target, *wrapped;
    int found = begin(self, args[0], args[1], 0, &target, &wrapped);
    if (found <= 0) {
        return found < 0 ? NULL : Py_NewRef(Py_None);
    }
    PyObject *result = PyTuple_Pack(3, target, ((GateSend *)wrapped)->state, wrapped);
    Py_DECREF(target);
    Py_DECREF(wrapped);
    return result;
}

static int
GateCore_init(GateCore *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"owner", "routes", "cache_plain", "cache_gpc", "default_state",
                            "gpc_state", "default_mask", "gpc_mask", "keep", "kinds",
                            "policies", "private_header", "fallback", NULL};
    PyObject *owner, *routes, *cache_plain, *cache_gpc, *default_state, *gpc_state, *keep,
        *kinds, *policies, *private_header, *fallback;
    long default_mask, gpc_mask;
    if (self->keep != NULL) {
        /* Set up once: each GateSend indexes the per-mask tables with its mask, so tables
           replaced under it could be read out of bounds. */
        PyErr_SetString(PyExc_TypeError, "GateCore is already set up");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "$OOO!O!OOllO!O!OO!O", names, &owner, &routes,
                                     &PyDict_Type, &cache_plain, &PyDict_Type, &cache_gpc,
                                     &default_state, &gpc_state, &default_mask, &gpc_mask,
                                     &PyTuple_Type, &keep, &PyDict_Type, &kinds, &policies,
                                     &PyTuple_Type, &private_header, &fallback)) {
        return -1;
    }
    Py_ssize_t masks = PyTuple_GET_SIZE(keep);
    for (Py_ssize_t i = 0; i < masks; i++) {
        if (!PyDict_CheckExact(PyTuple_GET_ITEM(keep, i))) {
            PyErr_SetString(PyExc_ValueError, "keep: one dict per mask");
            return -1;
        }
    }
    if (policies != Py_None) {
        if (!PyTuple_CheckExact(policies) || PyTuple_GET_SIZE(policies) != masks) {
            PyErr_SetString(PyExc_ValueError, "policies: one header per mask, or None");
            return -1;
        }
        for (Py_ssize_t i = 0; i < masks; i++) {
            PyObject *pair = PyTuple_GET_ITEM(policies, i);
            if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) {
                PyErr_SetString(PyExc_ValueError, "policies: (name, value) pairs");
                return -1;
            }
        }
    }
    if (routes != Py_None && !PyDict_CheckExact(routes)) {
        PyErr_SetString(PyExc_ValueError, "routes: a dict or None");
        return -1;
    }
    if (default_mask < 0 || default_mask >= masks || gpc_mask < 0 || gpc_mask >= masks) {
        PyErr_SetString(PyExc_ValueError, "default_mask and gpc_mask: a mask index");
        return -1;
    }
    /* Only the lower case names: Python learns other spellings as they come. */
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    self->nknown = 0;
    while (PyDict_Next(kinds, &pos, &key, &value)) {
        if (!PyBytes_CheckExact(key) || !PyLong_CheckExact(value)) {
            PyErr_SetString(PyExc_ValueError, "kinds: bytes name -> int kind");
            return -1;
        }
        long kind = PyLong_AsLong(value);
        const char *name = PyBytes_AS_STRING(key);
        Py_ssize_t len = PyBytes_GET_SIZE(key);
        int lower = 1;
        for (Py_ssize_t i = 0; i < len; i++) {
            lower &= !(name[i] >= 'A' && name[i] <= 'Z');
        }
        if (kind == 0 || !lower) {
            continue;
        }
        if (self->nknown == MAX_KNOWN || len >= MAX_KNOWN_NAME) {
            PyErr_SetString(PyExc_ValueError, "kinds: too many or too long names");
            return -1;
        }
        memcpy(self->known[self->nknown].name, name, (size_t)len);
        self->known[self->nknown].len = len;
        self->known[self->nknown].kind = kind;
        self->nknown++;
    }
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_ValueError, "fallback must be callable");
        return -1;
    }
#define SET(field, value) Py_INCREF(value); Py_XSETREF(self->field, value)
    SET(owner, owner);
    SET(routes, routes);
    SET(cache_plain, cache_plain);
    SET(cache_gpc, cache_gpc);
    SET(default_state, default_state);
    SET(gpc_state, gpc_state);
    SET(keep, keep);
    SET(policies, policies);
    SET(private_header, private_header);
    SET(fallback, fallback);
#undef SET
    self->default_mask = default_mask;
    self->gpc_mask = gpc_mask;
    return 0;
}

static int
GateCore_traverse(GateCore *self, visitproc visit, void *arg)
{
    Py_VISIT(self->owner);
    Py_VISIT(self->routes);
    Py_VISIT(self->cache_plain);
    Py_VISIT(self->cache_gpc);
    Py_VISIT(self->default_state);
    Py_VISIT(self->gpc_state);
    Py_VISIT(self->keep);
    Py_VISIT(self->policies);
    Py_VISIT(self->private_header);
    Py_VISIT(self->fallback);
    return 0;
}

static int
GateCore_clear(GateCore *self)
{
    Py_CLEAR(self->owner);
    Py_CLEAR(self->routes);
    Py_CLEAR(self->cache_plain);
    Py_CLEAR(self->cache_gpc);
    Py_CLEAR(self->default_state);
    Py_CLEAR(self->gpc_state);
    Py_CLEAR(self->keep);
    Py_CLEAR(self->policies);
    Py_CLEAR(self->private_header);
    Py_CLEAR(self->fallback);
    return 0;
}

static void
GateCore_dealloc(GateCore *self)
{
    PyObject_GC_UnTrack(self);
    GateCore_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef GateCore_methods[] = {
    {"run", (PyCFunction)(void (*)(void))GateCore_run, METH_FASTCALL,
     "run(scope, receive, send): the app's awaitable behind the gate, or None when the "
     "request needs the Python path (nothing has been changed then)."},
    {"enter", (PyCFunction)(void (*)(void))GateCore_enter, METH_FASTCALL,
     "enter(scope, send): (scope, state, gated send), or None when the request needs the "
     "Python path (nothing has been changed then)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GateCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "beaconguard._speedups.GateCore",
    .tp_doc = "The consent gate's cached decisions, replayed per request.",
    .tp_basicsize = sizeof(GateCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)GateCore_init,
    .tp_traverse = (traverseproc)GateCore_traverse,
    .tp_clear = (inquiry)GateCore_clear,
    .tp_dealloc = (destructor)GateCore_dealloc,
    .tp_methods = GateCore_methods,
};

/* ------------------------------------------------------------------------------------ */

static PyObject *GateSend_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                     PyObject *kwnames);

static PyObject *
GateSend_create(GateCore *core, PyObject *send, PyObject *state, long mask, PyObject *scope)
{
    GateSend *self = PyObject_GC_New(GateSend, &GateSendType);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = GateSend_vectorcall;
    Py_INCREF(core);
    self->core = core;
    Py_INCREF(send);
    self->send = send;
    Py_INCREF(state);
    self->state = state;
    Py_INCREF(scope);
    self->scope = scope;
    self->mask = mask;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

/* The response start to send, gated (a new reference), or NULL with an error set. */
static PyObject *
gate_start(GateSend *self, PyObject *message)
{
    GateCore *core = self->core;
    PyObject *headers = PyDict_GetItemWithError(message, str_headers);
    if (headers == NULL || headers == Py_None) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        return Py_NewRef(message); /* no headers: nothing to filter, no HTML to mark */
    }
    if (!PyList_CheckExact(headers) && !PyTuple_CheckExact(headers)) {
        goto fallback;
    }
    /* Held: a finaliser run by the allocation below may replace message["headers"]. */
    Py_INCREF(headers);
    PyObject *keep = PyTuple_GET_ITEM(core->keep, self->mask);
    PyObject *result = NULL;
    Py_ssize_t n;
    PyObject **items;
    unsigned long long drop;
    int add_csp;
    /* Allocated before the scan: allocating may run a collection, and a finaliser any
       Python code, which could change the list (even swap an allowed Set-Cookie for a
       denied one in place). From the scan until the items are copied, nothing allocates a
       tracked object, so what is copied is what was read. */
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        Py_DECREF(headers);
        return NULL;
    }
    if (PyList_CheckExact(headers)) {
        n = PyList_GET_SIZE(headers);
        items = ((PyListObject *)headers)->ob_item;
    }
    else {
        n = PyTuple_GET_SIZE(headers);
        items = ((PyTupleObject *)headers)->ob_item;
    }
    if (n > MAX_FAST_HEADERS) {
        goto release_fallback;
    }
    drop = 0;
    int html = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = items[i];
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2) {
            goto release_fallback;
        }
        PyObject *name = PyTuple_GET_ITEM(item, 0);
        PyObject *value = PyTuple_GET_ITEM(item, 1);
        if (!PyBytes_CheckExact(name) || !PyBytes_CheckExact(value)) {
            goto release_fallback;
        }
        const char *hname = PyBytes_AS_STRING(name);
        Py_ssize_t hlen = PyBytes_GET_SIZE(name);
        long kind = 0;
        for (int k = 0; k < core->nknown; k++) {
            if (hlen != core->known[k].len) {
                continue;
            }
            if (memcmp(hname, core->known[k].name, (size_t)hlen) == 0) {
                kind = core->known[k].kind;
                break;
            }
            if (bg_same_name(hname, core->known[k].name, hlen)) {
                goto release_fallback; /* another spelling of a name the gate reads */
            }
        }
        if (kind == 0) {
            continue;
        }
        const char *v = PyBytes_AS_STRING(value);
        Py_ssize_t vlen = PyBytes_GET_SIZE(value);
        if (kind == KIND_SET_COOKIE) {
            const char *eq = memchr(v, '=', (size_t)vlen);
            Py_ssize_t start = 0, end = eq != NULL ? eq - v : vlen;
            while (start < end && is_space(v[start])) {
                start++;
            }
            while (end > start && is_space(v[end - 1])) {
                end--;
            }
            int ok = memo_get(core, self->mask, v + start, end - start);
            if (ok < 0) {
                /* bytes are not tracked by the collector: this allocation runs no
                   finaliser */
                PyObject *cname = PyBytes_FromStringAndSize(v + start, end - start);
                if (cname == NULL) {
                    goto release;
                }
                PyObject *verdict = PyDict_GetItemWithError(keep, cname);
                Py_DECREF(cname);
                if (verdict == NULL) {
                    if (PyErr_Occurred()) {
                        goto release;
                    }
                    goto release_fallback; /* a name not decided under this mask yet */
                }
                if (verdict != Py_True && verdict != Py_False) {
                    goto release_fallback;
                }
                ok = verdict == Py_True;
                memo_put(core, self->mask, v + start, end - start, ok);
            }
            if (ok) {
                continue;
            }
            /* Denied. An empty value may be a deletion, which needs no consent: Python
               reads its attributes. */
            if (eq == NULL || eq + 1 == v + vlen) {
                goto release_fallback;
            }
            char first = eq[1];
            if (first == ';' || first == '"' || first == ' ') {
                goto release_fallback;
            }
            drop |= 1ULL << i;
        }
        else if (kind == KIND_CONTENT_TYPE) {
            static const char html_type[] = "text/html";
            html = vlen >= 9;
            for (int j = 0; html && j < 9; j++) {
                char c = v[j];
                if (c >= 'A' && c <= 'Z') {
                    c = (char)(c - 'A' + 'a');
                }
                html = c == html_type[j];
            }
        }
        else {
            goto release_fallback; /* the app's own CSP or Cache-Control: Python merges them */
        }
    }
    add_csp = html && core->policies != Py_None;
    if (!drop && !add_csp) {
        result = Py_NewRef(message);
        goto release;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(drop >> i & 1) && PyList_Append(out, items[i]) < 0) {
            goto release;
        }
    }
    /* The strictest CSP (nothing optional granted) is safe for anyone: it alone does not
       make the response private. */
    int private = drop != 0 || self->mask != 0;
    if (add_csp && PyList_Append(out, PyTuple_GET_ITEM(core->policies, self->mask)) < 0) {
        goto release;
    }
    if (private && PyList_Append(out, core->private_header) < 0) {
        goto release;
    }
    PyObject *fresh = PyDict_Copy(message);
    if (fresh == NULL || PyDict_SetItem(fresh, str_headers, out) < 0) {
        Py_XDECREF(fresh);
        goto release;
    }
    result = fresh;
release:
    Py_DECREF(out);
    Py_DECREF(headers);
    return result;
release_fallback:
    Py_DECREF(out);
    Py_DECREF(headers);
fallback: {
    PyObject *call_args[3] = {message, self->state, self->scope};
    return PyObject_Vectorcall(core->fallback, call_args, 3, NULL);
}
}

static PyObject *
GateSend_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    GateSend *self = (GateSend *)callable;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "send(message)");
        return NULL;
    }
    PyObject *message = args[0];
    PyObject *type = NULL;
    if (PyDict_CheckExact(message)) {
        type = PyDict_GetItemWithError(message, str_type);
        if (type == NULL) {
            if (PyErr_Occurred()) {
                return NULL;
            }
            PyErr_SetString(PyExc_KeyError, "type");
            return NULL;
        }
    }
    PyObject *to_send;
    if (type == NULL || !PyUnicode_CheckExact(type)) {
        /* Not a plain dict, or a type that is not a plain str: servers compare it with ==,
           so an enum member equal to "http.response.start" starts the response. Python
           compares the same way; passing such a message on ungated would fail open. */
        PyObject *call_args[3] = {message, self->state, self->scope};
        to_send = PyObject_Vectorcall(self->core->fallback, call_args, 3, NULL);
    }
    else {
        int start = type == str_response_start;
        if (!start && PyUnicode_GET_LENGTH(type) == PyUnicode_GET_LENGTH(str_response_start)) {
            start = PyUnicode_Compare(type, str_response_start) == 0;
        }
        if (!start) {
            return PyObject_CallOneArg(self->send, message);
        }
        to_send = gate_start(self, message);
    }
    if (to_send == NULL) {
        return NULL;
    }
    PyObject *result = PyObject_CallOneArg(self->send, to_send);
    Py_DECREF(to_send);
    return result;
}

static int
GateSend_traverse(GateSend *self, visitproc visit, void *arg)
{
    Py_VISIT(self->core);
    Py_VISIT(self->send);
    Py_VISIT(self->state);
    Py_VISIT(self->scope);
    return 0;
}

static int
GateSend_clear(GateSend *self)
{
    Py_CLEAR(self->core);
    Py_CLEAR(self->send);
    Py_CLEAR(self->state);
    Py_CLEAR(self->scope);
    return 0;
}

static void
GateSend_dealloc(GateSend *self)
{
    PyObject_GC_UnTrack(self);
    GateSend_clear(self);
    PyObject_GC_Del(self);
}

static PyTypeObject GateSendType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "beaconguard._speedups.GateSend",
    .tp_doc = "send for one gated request: filters the response start.",
    .tp_basicsize = sizeof(GateSend),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(GateSend, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = (traverseproc)GateSend_traverse,
    .tp_clear = (inquiry)GateSend_clear,
    .tp_dealloc = (destructor)GateSend_dealloc,
};

/* ------------------------------------------------------------------------------------ */

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "beaconguard._speedups",
    .m_doc = "The consent gate's per-request path in C (optional: Python does the same).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
#define INTERN(var, text)                                                                   \
    if ((var = PyUnicode_InternFromString(text)) == NULL) {                                 \
        return NULL;                                                                        \
    }
    INTERN(str_app, "app");
    INTERN(str_time, "time");
    INTERN(str_type, "type");
    INTERN(str_http, "http");
    INTERN(str_headers, "headers");
    INTERN(str_path, "path");
    INTERN(str_root_path, "root_path");
    INTERN(str_state, "state");
    INTERN(str_consent, "consent");
    INTERN(str_response_start, "http.response.start");
    INTERN(str_perf_counter, "perf_counter");
#undef INTERN
    if ((time_module = PyImport_ImportModule("time")) == NULL
        || (builtin_time = PyObject_GetAttr(time_module, str_time)) == NULL
        || (builtin_perf_counter = PyObject_GetAttr(time_module, str_perf_counter)) == NULL) {
        return NULL;
    }
    if ((bytes_cookie = PyBytes_FromString("cookie")) == NULL) {
        return NULL;
    }
    if (PyType_Ready(&GateCoreType) < 0 || PyType_Ready(&GateSendType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "GateCore", (PyObject *)&GateCoreType) < 0
        || bg_add_log_types(module) < 0 || bg_add_hash_functions(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
